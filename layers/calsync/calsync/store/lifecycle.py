"""The lifecycle publisher's adapters: stored images from the table's stream, related items
read back from the table, and events put on the EventBridge bus."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from calsync.bookings.records import InviteeRef, last_segment
from calsync.errors import DependencyUnavailable
from calsync.lifecycle.events import SOURCE, LifecycleEvent
from calsync.store import clients, keys
from calsync.store.dynamo import conditional, plain_item
from calsync.store.errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

PUT_EVENTS_BATCH = 10  # EventBridge's limit per PutEvents call


def stream_image(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stream record's ``OldImage``/``NewImage`` as stored attributes (table keys removed)."""
    if not image:
        return None
    return {k: v for k, v in plain_item(image).items() if k not in keys.KEY_ATTRIBUTES}


class TableImages:
    """Related items, read from the bookings table (consistent reads: the stream runs behind)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    def _get(self, key: keys.Key) -> dict[str, Any] | None:
        client = self._client or clients.dynamodb()
        with aws_call("dynamodb:GetItem (lifecycle)"):
            found = client.get_item(TableName=self.table_name, Key=key.dynamo(), ConsistentRead=True)
        return stream_image(found.get("Item"))

    def invitee(self, uri: str) -> dict[str, Any] | None:
        ref = InviteeRef.from_uri(uri)
        return self._get(keys.invitee(ref.event_uuid, ref.invitee_uuid)) if ref else None

    def scheduled_event(self, uri: str) -> dict[str, Any] | None:
        uuid = last_segment(uri)
        return self._get(keys.event(uuid)) if uuid else None

    def claim_reschedule(self, new_invitee_uri: str, event_id: str, *, claimant: str) -> bool:
        """Mark the new booking as announced by ``claimant`` (conditional: first one wins)."""
        ref = InviteeRef.from_uri(new_invitee_uri)
        if ref is None:
            return True
        client = self._client or clients.dynamodb()
        return conditional(
            "dynamodb:UpdateItem (reschedule claim)",
            lambda: client.update_item(
                TableName=self.table_name,
                Key=keys.invitee(ref.event_uuid, ref.invitee_uuid).dynamo(),
                UpdateExpression="SET reschedule_event = :e, reschedule_claimant = :c",
                ConditionExpression="attribute_not_exists(reschedule_event) OR reschedule_claimant = :c",
                ExpressionAttributeValues={":e": {"S": event_id}, ":c": {"S": claimant}},
            ),
        )


class EventBridgePublisher:
    """Puts lifecycle events on the bus; raises ``DependencyUnavailable`` unless every entry
    was accepted (the caller retries the record: consumers deduplicate on ``event_id``)."""

    def __init__(self, bus_name: str, client: EventBridgeClient | None = None) -> None:
        self.bus_name = bus_name
        self._client = client

    def publish(self, events: Sequence[LifecycleEvent]) -> None:
        client = self._client or clients.events()
        for start in range(0, len(events), PUT_EVENTS_BATCH):
            entries: list[PutEventsRequestEntryTypeDef] = [
                {
                    "Source": SOURCE,
                    "DetailType": event.detail_type.value,
                    "Detail": json.dumps(event.detail, separators=(",", ":")),
                    "EventBusName": self.bus_name,
                }
                for event in events[start : start + PUT_EVENTS_BATCH]
            ]
            with aws_call("events:PutEvents"):
                answer = client.put_events(Entries=entries)
            if answer.get("FailedEntryCount"):
                codes = sorted({str(e.get("ErrorCode")) for e in answer.get("Entries", []) if e.get("ErrorCode")})
                raise DependencyUnavailable(f"events:PutEvents refused {answer['FailedEntryCount']} entries: {codes}")
