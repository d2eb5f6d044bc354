"""DynamoDB implementations of ``BookingLookup`` and ``EventReader``: one booking or one
scheduled event of one connection, never another connection's.

A booking: GSI3 (keys only) holds ``BOOKING#<connection>#<invitee uuid>`` on every invitee item
stored since the index came, so a Query on it finds the invitee's table key only under its own
connection; then one Query of its event's partition from the ``EVENT`` item to that invitee's
(both in one request: half a read unit per 4 KB of both, so a one-to-one event's booking costs
one read unit with the index's half). An event: one Query of its partition from ``EVENT`` to
the last invitee (never its routing-form submissions), kept only when the event (or, without an
event item, its invitees) belongs to the connection. Eventually consistent reads throughout;
``read_units`` holds what the last call consumed (``ReturnConsumedCapacity``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import plain_item
from calsync.aws.errors import aws_call
from calsync.read.aws_tenant_bookings import joined_booking

_EVENT_SK = keys.event("").sk


class DynamoTenantItems(clients.TableAdapter):
    read_units: float = 0.0  # consumed by the last call

    def booking(self, connection_id: str, invitee_uuid: str) -> Mapping[str, Any] | None:
        self.read_units = 0.0
        found = next(
            self._query(
                "booking by invitee uuid",
                IndexName=keys.GSI3,
                KeyConditionExpression="GSI3PK = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.booking_pk(connection_id, invitee_uuid)}},
                Limit=1,
            ),
            None,
        )
        if found is None:
            return None
        event_uuid = keys.identity(keys.Key(found[keys.PK], found[keys.SK]))[0]
        event, invitees = self._partition(event_uuid, upto=found[keys.SK])
        invitee = next((i for i in invitees if i[keys.SK] == found[keys.SK]), None)
        if invitee is None or invitee.get("tenant") != connection_id:
            return None  # erased since the index was read, or not this connection's
        return joined_booking(event or {}, invitee, None)

    def event(
        self, connection_id: str, event_uuid: str
    ) -> tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]] | None:
        self.read_units = 0.0
        event, invitees = self._partition(event_uuid, upto=keys.invitees_from(None)[1])
        owner = event.get("tenant") if event is not None else next((i.get("tenant") for i in invitees), None)
        if owner != connection_id or (event is None and not invitees):
            return None
        found = event or {}
        return found, [joined_booking(found, invitee, None) for invitee in invitees]

    def _partition(self, event_uuid: str, *, upto: str) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The event's item (``None`` when absent) and its invitees up to the sort key ``upto``."""
        event: dict[str, Any] | None = None
        invitees: list[dict[str, Any]] = []
        for item in self._query(
            "event and invitees",
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": keys.event_pk(event_uuid)},
                ":lo": {"S": _EVENT_SK},
                ":hi": {"S": upto},
            },
        ):
            if item[keys.SK] == _EVENT_SK:
                event = item
            elif str(item[keys.SK]).startswith(keys.invitee_sk("")):
                invitees.append(item)
        return event, invitees

    def _query(self, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "ConsistentRead": False,
            "ReturnConsumedCapacity": "TOTAL",
            **kwargs,
        }
        while True:
            with aws_call(f"dynamodb:Query ({what})"):
                page = self.client.query(**request)
            self.read_units += float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
            yield from (plain_item(item) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page or "Limit" in kwargs:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
