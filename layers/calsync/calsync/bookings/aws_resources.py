"""DynamoDB writes and reads of the typed resources (event types, contacts, meeting recaps),
mixed into ``DynamoBookingsRepository``; key formats are in ``calsync.aws.keys``.

Each resource is one item, replaced whole by a ``PutItem`` conditioned on ``attribute_not_exists(v)
OR v < :v``: a deletion leaves nothing of the personal data the item held, a stale or repeated
delivery changes nothing. What is stored is read first (half a read unit) so a write known to
lose is not sent. A meeting recap is found by its lookup key (GSI3, keys only) wherever it is
stored: a ``meeting_recap.deleted`` names no scheduled event.
"""

from __future__ import annotations

from typing import Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import conditional, plain_item, query_items, serialise_item
from calsync.aws.errors import aws_call
from calsync.aws.views import StoredResource
from calsync.bookings.records import ResourceSnapshot


class ResourceTable(clients.TableAdapter):
    def _version_at(self, key: keys.Key) -> str | None:
        keys.check_sizes("resource", key.attributes())
        with aws_call("dynamodb:GetItem (resource)", input_checked=True):
            found = self.client.get_item(
                TableName=self.table_name,
                Key=key.dynamo(),
                ProjectionExpression="#v",
                ExpressionAttributeNames={"#v": "v"},
            )
        stored = plain_item(found.get("Item", {})).get("v")
        return stored if isinstance(stored, str) else None

    def _recap_key(self, tenant: str, recap_uuid: str) -> keys.Key | None:
        """Where a recap is stored, if it is (one Query of GSI3, eventually consistent)."""
        for entry in query_items(
            self.client,
            "recap lookup",
            TableName=self.table_name,
            IndexName=keys.GSI3,
            KeyConditionExpression="GSI3PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.recap_pk(tenant, recap_uuid)}},
        ):
            return keys.Key(entry[keys.PK], entry[keys.SK])
        return None

    def upsert_resource(self, snapshot: ResourceSnapshot) -> bool:
        extra: dict[str, Any] = {}
        if snapshot.kind == "meeting_recap":
            found = self._recap_key(snapshot.tenant, snapshot.uuid)
            key = found or keys.resource(snapshot.kind, snapshot.tenant, snapshot.uuid, snapshot.event_uuid)
            extra["GSI3PK"] = keys.recap_pk(snapshot.tenant, snapshot.uuid)
            if key.pk.startswith("EVENT#"):  # a deletion stays with its scheduled event
                extra["event_uuid"] = key.pk.partition("#")[2]
        else:
            key = keys.resource(snapshot.kind, snapshot.tenant, snapshot.uuid)
        stored = self._version_at(key)
        if stored is not None and stored >= snapshot.version:
            return False
        attributes = {**key.attributes(), **extra, "type": snapshot.kind, **snapshot.state, "v": snapshot.version}
        keys.check_sizes(snapshot.kind, attributes)
        item = serialise_item(attributes)
        return conditional(
            f"dynamodb:PutItem ({snapshot.kind})",
            lambda: self.client.put_item(
                TableName=self.table_name,
                Item=item,
                ConditionExpression="attribute_not_exists(#v) OR #v < :v",
                ExpressionAttributeNames={"#v": "v"},
                ExpressionAttributeValues={":v": {"S": snapshot.version}},
            ),
            input_checked=True,
        )

    def resources(self, kind: str, tenant: str) -> list[StoredResource]:
        """A connection's event types or contacts (deleted ones included): one Query."""
        return [
            StoredResource.from_item(item)
            for item in query_items(
                self.client,
                kind,
                TableName=self.table_name,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.resources_pk(kind, tenant)}},
            )
        ]
