"""The reconciler's storage: stored invitees read through the bookings repository's typed
views, the resume cursor on the connection's item, and the run reports (one partition per
connection, kept ``REPORT_TTL_DAYS``). Key formats are in ``calsync.aws.keys``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import batch_get_items, conditional, plain_item, query_items, serialise, serialise_item
from calsync.aws.errors import aws_call
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.bookings.records import InviteeRef, last_segment
from calsync.reconcile.ports import StoredInvitee

REPORT_TTL_DAYS = 90
CURSOR_ATTRIBUTE = "reconcile_cursor"


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


class DynamoStoredBookings:
    """``reconcile.ports.StoredBookings``: one Query per scheduled event, one BatchGetItem per
    routing-form submission."""

    def __init__(self, repository: DynamoBookingsRepository) -> None:
        self._repository = repository

    def invitees_of(self, event_uri: str) -> dict[str, StoredInvitee]:
        event_uuid = last_segment(event_uri)
        if event_uuid is None:
            return {}
        found: dict[str, StoredInvitee] = {}
        for booking in self._repository.scheduled_event(event_uuid).invitees:
            if not booking.uri:
                continue
            mark = booking.no_show or {}
            found[booking.uri] = StoredInvitee(
                uri=booking.uri,
                status=booking.status,
                updated_at=_time(booking.updated_at),
                no_show_uri=mark.get("uri"),
                no_show_at=_time(mark.get("created_at")),
            )
        return found

    def has_submission(self, uuid: str, submitter: InviteeRef | None) -> bool:
        wanted = {keys.submission(uuid, None)}
        if submitter is not None:
            wanted.add(keys.submission(uuid, submitter.event_uuid))
        repository = self._repository
        return bool(
            batch_get_items(
                repository.client,
                "reconcile: submission",
                repository.table_name,
                [key.dynamo() for key in sorted(wanted, key=lambda k: (k.pk, k.sk))],
            )
        )


class DynamoReconcileState(clients.TableAdapter):
    """``reconcile.ports.ReconcileState`` over the bookings table."""

    def cursor(self, connection_id: str) -> dict[str, Any] | None:
        with aws_call("dynamodb:GetItem (reconcile cursor)"):
            found = self.client.get_item(
                TableName=self.table_name,
                Key=keys.connection(connection_id).dynamo(),
                ProjectionExpression="#c",
                ExpressionAttributeNames={"#c": CURSOR_ATTRIBUTE},
                ConsistentRead=True,
            )
        value = plain_item(found.get("Item", {})).get(CURSOR_ATTRIBUTE)
        return value if isinstance(value, dict) else None

    def save_cursor(self, connection_id: str, cursor: Mapping[str, Any] | None) -> None:
        """Set (or, with ``None``, remove) the cursor; a removed connection is left alone."""
        names = {"#c": CURSOR_ATTRIBUTE}
        if cursor is None:
            expression, values = "REMOVE #c", None
        else:
            expression, values = "SET #c = :c", {":c": serialise(dict(cursor))}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": keys.connection(connection_id).dynamo(),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeNames": names,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        conditional("dynamodb:UpdateItem (reconcile cursor)", lambda: self.client.update_item(**kwargs))

    def put_report(self, report: Mapping[str, Any]) -> None:
        started = datetime.fromisoformat(str(report["started_at"]))
        key = keys.report(str(report["connection_id"]), started, uuid.uuid4().hex[:8])
        item = {
            **key.attributes(),
            "type": "reconcile_report",
            **report,
            "expires_at": int(time.time()) + REPORT_TTL_DAYS * 86_400,
        }
        with aws_call("dynamodb:PutItem (reconcile report)"):
            self.client.put_item(TableName=self.table_name, Item=serialise_item(item))

    def reports(self, connection_id: str, *, limit: int = 1) -> list[dict[str, Any]]:
        """The connection's latest ``limit`` reports, newest first."""
        items: Iterator[dict[str, Any]] = query_items(
            self.client,
            "reconcile reports",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.report_pk(connection_id)}},
            ScanIndexForward=False,
            Limit=limit,
        )
        found = []
        for item in items:
            found.append({k: v for k, v in item.items() if k not in keys.KEY_ATTRIBUTES and k != "type"})
            if len(found) >= limit:
                break
        return found
