"""DynamoDB adapter for the lifecycle publisher's ``Images`` and ``Claims`` ports: stored images
from the table's stream, and related items read back from the table."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import conditional, plain_item
from calsync.aws.errors import aws_call
from calsync.bookings.records import InviteeRef, last_segment
from calsync.lifecycle.publish import Change

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH_GET_KEYS = 100  # DynamoDB's limit per BatchGetItem call
BATCH_GET_ATTEMPTS = 20  # calls per read-ahead at most (unprocessed keys are asked again)


def stream_image(image: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A stream record's ``OldImage``/``NewImage`` as stored attributes (table keys removed)."""
    if not image:
        return None
    return {k: v for k, v in plain_item(image).items() if k not in keys.KEY_ATTRIBUTES}


def stream_change(record: Mapping[str, Any]) -> Change:
    """A stream record as a change, keyed by its sequence number (what Lambda checkpoints on)."""
    data = record.get("dynamodb") or {}
    return Change(
        key=str(data.get("SequenceNumber") or record.get("eventID")),
        old=stream_image(data.get("OldImage")),
        new=stream_image(data.get("NewImage")),
    )


class TableImages:
    """Related items, read from the bookings table (consistent reads: the stream runs behind)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client
        self._read: dict[keys.Key, dict[str, Any] | None] = {}  # this batch's reads (``read_ahead``)

    def _get(self, key: keys.Key) -> dict[str, Any] | None:
        if key in self._read:
            return self._read[key]
        client = self._client or clients.dynamodb()
        with aws_call("dynamodb:GetItem (lifecycle)"):
            found = client.get_item(TableName=self.table_name, Key=key.dynamo(), ConsistentRead=True)
        return stream_image(found.get("Item"))

    def read_ahead(self, images: Iterable[Mapping[str, Any] | None], *, invitees: Iterable[str] = ()) -> None:
        """Read the scheduled events and event types of these (new) images, and the ``invitees`` named, in
        BatchGetItem calls of up to 100 keys (consistent reads, unprocessed keys asked again),
        for ``scheduled_event`` and ``invitee`` to answer from until ``forget``: one call for a
        stream batch instead of one GetItem per booking. An item written after this read has a
        stream record of its own, later, which reads it again."""
        images = list(images)  # read twice below (a generator would be spent after the first)
        wanted = {
            keys.event(uuid)
            for image in images
            if image and isinstance(uri := image.get("event_uri"), str) and (uuid := last_segment(uri))
        }
        wanted |= {
            keys.invitee(ref.event_uuid, ref.invitee_uuid) for uri in invitees if (ref := InviteeRef.from_uri(uri))
        }
        wanted |= {  # their event types (a booking carries its event type's current name)
            keys.resource("event_type", tenant, uuid)
            for image in images
            if image
            and isinstance(tenant := image.get("tenant"), str)
            and isinstance(uri := image.get("event_type"), str)
            and (uuid := last_segment(uri))
        }
        self._read = dict.fromkeys(wanted)
        client = self._client or clients.dynamodb()
        pending: list[Any] = [key.dynamo() for key in sorted(wanted)]
        for _ in range(BATCH_GET_ATTEMPTS):
            if not pending:
                return
            chunk, pending = pending[:BATCH_GET_KEYS], pending[BATCH_GET_KEYS:]
            request: Any = {self.table_name: {"Keys": chunk, "ConsistentRead": True}}
            with aws_call("dynamodb:BatchGetItem (lifecycle)"):
                answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(self.table_name, []):
                self._read[keys.Key(item[keys.PK]["S"], item[keys.SK]["S"])] = stream_image(item)
            unprocessed: Any = answer.get("UnprocessedKeys") or {}
            pending += unprocessed.get(self.table_name, {}).get("Keys", [])
        for key in pending:  # still unprocessed: read one by one when asked
            self._read.pop(keys.Key(key[keys.PK]["S"], key[keys.SK]["S"]), None)

    def forget(self) -> None:
        self._read = {}

    def invitee(self, uri: str) -> dict[str, Any] | None:
        ref = InviteeRef.from_uri(uri)
        return self._get(keys.invitee(ref.event_uuid, ref.invitee_uuid)) if ref else None

    def scheduled_event(self, uri: str) -> dict[str, Any] | None:
        uuid = last_segment(uri)
        return self._get(keys.event(uuid)) if uuid else None

    def event_type(self, tenant: str, uri: str) -> dict[str, Any] | None:
        """One GetItem per event type a batch names (kept until ``forget``)."""
        uuid = last_segment(uri)
        if uuid is None:
            return None
        key = keys.resource("event_type", tenant, uuid)
        if key not in self._read:
            self._read[key] = self._get(key)
        return self._read[key]

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
