"""DynamoDB adapters of the actions' ports, over the bookings table: the ``Idempotency-Key``
records and the stored bookings an action reads.

An idempotency record: ``PK = IDEMPOTENCY#<connection id>#<sha256 of the key>``, ``SK =
IDEMPOTENCY``, with the request's fingerprint, its answer (status, booking ids, or a refusal's
body: no personal data) and ``expires_at`` (the table's TTL) a day on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from calsync.actions.idempotency import LEASE_SECONDS, TTL_SECONDS, Kept
from calsync.actions.requests import Answer
from calsync.aws import clients, keys
from calsync.aws.dynamo import conditional, plain_item
from calsync.aws.errors import aws_call
from calsync.read.aws_tenant_bookings import joined_booking
from calsync.read.aws_tenant_items import DynamoTenantItems

SK = "IDEMPOTENCY"


def idempotency_key(connection_id: str, key: str) -> keys.Key:
    return keys.Key(f"IDEMPOTENCY#{connection_id}#{hashlib.sha256(key.encode()).hexdigest()}", SK)


def _kept(item: Mapping[str, Any]) -> Kept:
    status = item.get("status")
    booking = item.get("booking")
    body = item.get("body")
    return Kept(
        fingerprint=str(item.get("fingerprint")),
        status=int(status) if status is not None else None,
        booking=(str(booking[0]), str(booking[1])) if isinstance(booking, list) and len(booking) == 2 else None,
        body=json.loads(body) if isinstance(body, str) else None,
    )


class DynamoIdempotency(clients.TableAdapter):
    """``actions.idempotency.IdempotencyStore``."""

    def claim(self, connection_id: str, key: str, fingerprint: str, *, now: int) -> Kept | None:
        where = idempotency_key(connection_id, key)
        claimed = conditional(
            "dynamodb:PutItem (idempotency claim)",
            lambda: self.client.put_item(
                TableName=self.table_name,
                Item={
                    **where.dynamo(),
                    "fingerprint": {"S": fingerprint},
                    "lease_until": {"N": str(now + LEASE_SECONDS)},
                    "expires_at": {"N": str(now + TTL_SECONDS)},
                },
                # Free, expired (TTL deletes late), or a claim whose request died (its lease passed).
                ConditionExpression=(
                    "attribute_not_exists(PK) OR expires_at < :now "
                    "OR (attribute_not_exists(#status) AND lease_until < :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            ),
        )
        if claimed:
            return None
        with aws_call("dynamodb:GetItem (idempotency)"):
            found = self.client.get_item(TableName=self.table_name, Key=where.dynamo(), ConsistentRead=True)
        item = found.get("Item")
        return _kept(plain_item(item)) if item else Kept(fingerprint=fingerprint)  # gone since: retry

    def keep(self, connection_id: str, key: str, answer: Answer, *, now: int) -> None:
        values: dict[str, Any] = {":s": {"N": str(answer.status)}}
        sets = ["#status = :s"]
        if answer.booking is not None:
            values[":b"] = {"L": [{"S": part} for part in answer.booking]}
            sets.append("booking = :b")
        else:
            values[":body"] = {"S": json.dumps(dict(answer.body), separators=(",", ":"))}
            sets.append("body = :body")
        with aws_call("dynamodb:UpdateItem (idempotency answer)"):
            self.client.update_item(
                TableName=self.table_name,
                Key=idempotency_key(connection_id, key).dynamo(),
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE lease_until",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )

    def release(self, connection_id: str, key: str) -> None:
        with aws_call("dynamodb:DeleteItem (idempotency release)"):
            self.client.delete_item(TableName=self.table_name, Key=idempotency_key(connection_id, key).dynamo())


class DynamoActionBookings(clients.TableAdapter):
    """``actions.act.ActionBookings``: by invitee uuid (GSI3), or consistently by the full key."""

    def find(self, connection_id: str, invitee_uuid: str) -> Mapping[str, Any] | None:
        return DynamoTenantItems(self.table_name, self.client).booking(connection_id, invitee_uuid)

    def read(self, connection_id: str, event_uuid: str, invitee_uuid: str) -> Mapping[str, Any] | None:
        found: dict[str, dict[str, Any]] = {}
        for name, key in (("event", keys.event(event_uuid)), ("invitee", keys.invitee(event_uuid, invitee_uuid))):
            with aws_call(f"dynamodb:GetItem ({name})"):
                item = self.client.get_item(TableName=self.table_name, Key=key.dynamo(), ConsistentRead=True)
            if "Item" in item:
                found[name] = plain_item(item["Item"])
        invitee = found.get("invitee")
        if invitee is None or invitee.get("tenant") != connection_id:
            return None
        return joined_booking(found.get("event") or {}, invitee, None)
