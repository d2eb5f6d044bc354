"""DynamoDB implementation of the bookings repository (single-table design).

Items, one Query for each question the design asks:

==========================  ===============  ====================  ==========================
item                        PK               SK                    index keys
==========================  ===============  ====================  ==========================
scheduled event             EVENT#<uuid>     EVENT                 GSI2 TENANT#<conn> / start
invitee (booking)           EVENT#<uuid>     INVITEE#<uuid>        GSI1 EMAIL#<email> / start
routing-form submission     EVENT#<uuid>     SUBMISSION#<uuid>     (or PK SUBMISSION#<uuid>)
unmodelled event            OTHER#<event>    <created_at>#<sha>
raw delivery (TTL)          DELIVERY#<sha>   DELIVERY
quarantined delivery        QUARANTINE#<sha> QUARANTINE
connection                  CONNECTION#<id>  CONNECTION
==========================  ===============  ====================  ==========================

Every versioned write is an ``UpdateItem`` conditioned on ``attribute_not_exists(v) OR
v < :v``, so a stale or repeated delivery changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from calsync.bookings.records import (
    EventSnapshot,
    InviteeRef,
    InviteeSnapshot,
    Link,
    NoShowChange,
    SubmissionSnapshot,
)
from calsync.store import clients
from calsync.store.errors import aws_call, error_code
from calsync.webhooks.delivery import Delivery

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
UNKNOWN_START = "~"  # sorts after every ISO timestamp
LINK_ATTRIBUTES = frozenset({"rescheduled_from", "rescheduled_to", "routing_form_submission"})


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _dynamo_safe(value: Any) -> Any:
    """JSON-shaped data as DynamoDB accepts it (floats become Decimal, exactly as printed)."""
    if isinstance(value, str | bool | int) or value is None:
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {str(k): _dynamo_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_safe(v) for v in value]
    return json.loads(json.dumps(value), parse_float=Decimal)


def to_plain(value: Any) -> Any:
    """DynamoDB values back to JSON-friendly Python (Decimal to int or float)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: to_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    return value


def _plain_item(item: Mapping[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = to_plain({k: _deserializer.deserialize(v) for k, v in item.items()})
    return plain


def invitee_key(ref: InviteeRef) -> dict[str, str]:
    return {"PK": f"EVENT#{ref.event_uuid}", "SK": f"INVITEE#{ref.invitee_uuid}"}


class _Update:
    """Builds one UpdateExpression with placeholder names and values."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def _placeholders(self, name: str, value: Any) -> tuple[str, str]:
        index = len(self.names)
        self.names[f"#n{index}"] = name
        self.values[f":v{index}"] = _serializer.serialize(_dynamo_safe(value))
        return f"#n{index}", f":v{index}"

    def set(self, name: str, value: Any) -> None:
        n, v = self._placeholders(name, value)
        self.parts.append(f"{n} = {v}")

    def set_if_absent(self, name: str, value: Any) -> None:
        n, v = self._placeholders(name, value)
        self.parts.append(f"{n} = if_not_exists({n}, {v})")

    def set_all(self, attributes: Mapping[str, Any]) -> None:
        for name, value in attributes.items():
            self.set(name, value)

    def newer_than_stored(self, attribute: str, version: str) -> str:
        n, v = self._placeholders(attribute, version)
        self.parts.append(f"{n} = {v}")
        return f"attribute_not_exists({n}) OR {n} < {v}"

    @property
    def expression(self) -> str:
        return "SET " + ", ".join(self.parts)


class DynamoBookingsRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client or clients.dynamodb()

    # -- writes -------------------------------------------------------------------------

    def _conditional_update(self, what: str, key: Mapping[str, str], update: _Update, condition: str | None) -> bool:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": {k: {"S": v} for k, v in key.items()},
            "UpdateExpression": update.expression,
            "ExpressionAttributeNames": update.names,
            "ExpressionAttributeValues": update.values,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        with aws_call(f"dynamodb:UpdateItem ({what})"):
            try:
                self.client.update_item(**kwargs)
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def _put_new(self, what: str, item: Mapping[str, Any]) -> bool:
        with aws_call(f"dynamodb:PutItem ({what})"):
            try:
                self.client.put_item(
                    TableName=self.table_name,
                    Item={k: _serializer.serialize(_dynamo_safe(v)) for k, v in item.items() if v is not None},
                    ConditionExpression="attribute_not_exists(PK)",
                )
            except ClientError as exc:
                if error_code(exc) == "ConditionalCheckFailedException":
                    return False
                raise
        return True

    def archive(self, delivery: Delivery, *, expires_at: int) -> bool:
        return self._put_new(
            "archive",
            {
                "PK": f"DELIVERY#{delivery.body_sha256}",
                "SK": "DELIVERY",
                "type": "delivery",
                "event": delivery.event,
                "connection_id": delivery.connection_id,
                "received_at": _iso(delivery.received_at),
                "body": delivery.body,
                "expires_at": expires_at,
            },
        )

    def upsert_invitee(self, snapshot: InviteeSnapshot) -> bool:
        update = _Update()
        condition = update.newer_than_stored("v", snapshot.version)
        update.set_all(
            {
                "type": "invitee",
                "uri": snapshot.uri,
                "tenant": snapshot.tenant,
                "status": snapshot.status,
                "updated_at": _iso(snapshot.updated_at),
                "event_uri": snapshot.event_uri,
                "email": snapshot.email,
                "name": snapshot.name,
                "timezone": snapshot.timezone,
                "created_at": _iso(snapshot.created_at),
                "rescheduled": snapshot.rescheduled,
                "cancellation": snapshot.cancellation,
                "questions_and_answers": snapshot.questions_and_answers,
                "tracking": snapshot.tracking,
                "payment": snapshot.payment,
            }
        )
        # Links and event facts are only ever added: a 2020-shape delivery without them
        # must not erase what another delivery brought.
        known = {
            "rescheduled_from": snapshot.old_invitee,
            "rescheduled_to": snapshot.new_invitee,
            "routing_form_submission": snapshot.routing_form_submission,
            "event_name": snapshot.event_name,
            "start_time": _iso(snapshot.start_time),
            "end_time": _iso(snapshot.end_time),
        }
        update.set_all({k: v for k, v in known.items() if v is not None})
        if snapshot.email:
            update.set("GSI1PK", f"EMAIL#{snapshot.email.strip().lower()}")
            sort = f"{_iso(snapshot.start_time) or UNKNOWN_START}#{snapshot.ref.invitee_uuid}"
            if snapshot.start_time is not None:
                update.set("GSI1SK", sort)
            else:
                update.set_if_absent("GSI1SK", sort)
        return self._conditional_update("invitee", invitee_key(snapshot.ref), update, condition)

    def upsert_event(self, snapshot: EventSnapshot) -> bool:
        update = _Update()
        condition = update.newer_than_stored("v", snapshot.version)
        update.set_all(
            {
                "type": "event",
                "uri": snapshot.uri,
                "tenant": snapshot.tenant,
                "name": snapshot.name,
                "status": snapshot.status,
                "start_time": _iso(snapshot.start_time),
                "end_time": _iso(snapshot.end_time),
                "event_type": snapshot.event_type,
                "location": snapshot.location,
                "memberships": snapshot.memberships,
            }
        )
        if snapshot.start_time is not None:
            update.set("GSI2PK", f"TENANT#{snapshot.tenant}")
            update.set("GSI2SK", f"{_iso(snapshot.start_time)}#{snapshot.event_uuid}")
        key = {"PK": f"EVENT#{snapshot.event_uuid}", "SK": "EVENT"}
        return self._conditional_update("event", key, update, condition)

    def set_no_show(self, change: NoShowChange) -> bool:
        update = _Update()
        condition = update.newer_than_stored("nsv", change.version)
        update.set("no_show", change.mark)
        update.set_if_absent("type", "invitee")
        update.set_if_absent("uri", change.invitee_uri)
        return self._conditional_update("no-show", invitee_key(change.ref), update, condition)

    def link(self, link: Link) -> None:
        if link.attribute not in LINK_ATTRIBUTES:
            raise ValueError(f"not a link attribute: {link.attribute}")
        update = _Update()
        update.set(link.attribute, link.value)
        update.set_if_absent("type", "invitee")
        self._conditional_update("link", invitee_key(link.ref), update, None)

    def upsert_submission(self, snapshot: SubmissionSnapshot) -> bool:
        update = _Update()
        condition = update.newer_than_stored("v", snapshot.version)
        update.set_all(
            {
                "type": "routing_form_submission",
                "uri": snapshot.uri,
                "tenant": snapshot.tenant,
                "routing_form": snapshot.routing_form,
                "submitter": snapshot.submitter,
                "submitter_type": snapshot.submitter_type,
                "questions_and_answers": snapshot.questions_and_answers,
                "tracking": snapshot.tracking,
                "result": snapshot.result,
                "created_at": _iso(snapshot.created_at),
            }
        )
        ref = snapshot.submitter_ref
        pk = f"EVENT#{ref.event_uuid}" if ref else f"SUBMISSION#{snapshot.uuid}"
        if ref:
            update.set("invitee_sk", invitee_key(ref)["SK"])
        return self._conditional_update(
            "submission", {"PK": pk, "SK": f"SUBMISSION#{snapshot.uuid}"}, update, condition
        )

    def keep_other(self, delivery: Delivery, *, created_at: datetime) -> bool:
        return self._put_new(
            "other",
            {
                "PK": f"OTHER#{delivery.event}",
                "SK": f"{_iso(created_at)}#{delivery.body_sha256}",
                "type": "other",
                "event": delivery.event,
                "connection_id": delivery.connection_id,
                "received_at": _iso(delivery.received_at),
                "body": delivery.body,
            },
        )

    def quarantine(self, delivery: Delivery, *, reason: str) -> None:
        self._put_new(
            "quarantine",
            {
                "PK": f"QUARANTINE#{delivery.body_sha256}",
                "SK": "QUARANTINE",
                "type": "quarantine",
                "event": delivery.event,
                "reason": reason,
                "connection_id": delivery.connection_id,
                "received_at": _iso(delivery.received_at),
                "body": delivery.body,
            },
        )

    # -- reads --------------------------------------------------------------------------

    def _query(self, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        kwargs["TableName"] = self.table_name
        while True:
            with aws_call(f"dynamodb:Query ({what})"):
                page = self.client.query(**kwargs)
            for item in page.get("Items", []):
                yield _plain_item(item)
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scheduled_event(self, event_uuid: str) -> list[dict[str, Any]]:
        """The scheduled event with all its invitees (and submissions): one Query."""
        return list(
            self._query(
                "event",
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": f"EVENT#{event_uuid}"}},
            )
        )

    def bookings_by_email(
        self, email: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        """All bookings of an invitee email, ordered by start time: one Query on GSI1."""
        return list(self._window("GSI1", f"EMAIL#{email.strip().lower()}", start, end))

    def events_for_tenant(
        self, tenant: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[dict[str, Any]]:
        """A connection's (organization's) events in a start-time window: one Query on GSI2."""
        return list(self._window("GSI2", f"TENANT#{tenant}", start, end))

    def _window(self, index: str, pk: str, start: datetime | None, end: datetime | None) -> Iterable[dict[str, Any]]:
        values = {":pk": {"S": pk}, ":lo": {"S": _iso(start) or "0"}, ":hi": {"S": (_iso(end) or UNKNOWN_START) + "~"}}
        return self._query(
            index,
            IndexName=index,
            KeyConditionExpression=f"{index}PK = :pk AND {index}SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues=values,
        )

    def scan_type(self, item_type: str) -> list[dict[str, Any]]:
        """Every item of a type (operator tooling and tests; not for request paths)."""
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "#t = :t",
            "ExpressionAttributeNames": {"#t": "type"},
            "ExpressionAttributeValues": {":t": {"S": item_type}},
        }
        while True:
            with aws_call("dynamodb:Scan"):
                page = self.client.scan(**kwargs)
            items.extend(
                to_plain({k: _deserializer.deserialize(v) for k, v in i.items()}) for i in page.get("Items", [])
            )
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
