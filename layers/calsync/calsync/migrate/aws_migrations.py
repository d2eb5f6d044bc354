"""DynamoDB implementations of ``BookingIndex`` (for GSI3 and for GSI2) and ``MigrationLog``.

The invitees: a Scan (one segment of ``segments``, eventually consistent, ``PAGE_ITEMS`` items
read a page) filtered to invitee items (``SK`` begins with ``INVITEE#``) and projected to their
keys, ``tenant`` and ``GSI3PK``: a Scan costs what it reads (0.5 read units per 4 KB) whatever it
returns, so returning the already-indexed ones too costs nothing and lets the run count them.
The write: ``SET GSI3PK`` conditioned on the item existing (an UpdateItem would otherwise create a
stub of an erased invitee), still lacking GSI3PK and still of that connection; when the condition
fails, one strongly consistent GetItem tells why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import conditional, plain_item, query_items, serialise_item
from calsync.aws.errors import aws_call
from calsync.migrate.ports import IndexCandidate, Indexed, Position

PAGE_ITEMS = 1000  # items read per Scan page (before the filter): small steps, easy on the table
_INVITEE = keys.invitee_sk("")


def _scan_invitees(
    adapter: clients.TableAdapter, index: str, projection: str, segment: int, segments: int, after: Position | None
) -> tuple[list[dict[str, Any]], Position | None]:
    """One page of the Scan of invitee items, projected to ``projection``; ``index`` names the step's index."""
    request: dict[str, Any] = {
        "TableName": adapter.table_name,
        "FilterExpression": "begins_with(SK, :invitee)",
        "ProjectionExpression": projection,
        "ExpressionAttributeValues": {":invitee": {"S": _INVITEE}},
        "Limit": PAGE_ITEMS,
    }
    if segments > 1:
        request |= {"Segment": segment, "TotalSegments": segments}
    if after is not None:
        request["ExclusiveStartKey"] = dict(after)
    with aws_call(f"dynamodb:Scan (invitees for {index})"):
        page = adapter.client.scan(**request)
    return [plain_item(item) for item in page.get("Items", [])], page.get("LastEvaluatedKey")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _set_index(
    adapter: clients.TableAdapter,
    what: str,
    key: keys.Key,
    update: str,
    marker: str,
    values: dict[str, Any],
) -> Indexed:
    """``update`` on the invitee at ``key`` if it still exists, still lacks ``marker`` and is still of
    ``:tenant`` (in ``values``); when the condition fails, one strongly consistent GetItem tells why."""
    applied = conditional(
        f"dynamodb:UpdateItem (invitee {what})",
        lambda: adapter.client.update_item(
            TableName=adapter.table_name,
            Key=key.dynamo(),
            UpdateExpression=update,
            ConditionExpression=f"attribute_exists(PK) AND attribute_not_exists({marker}) AND tenant = :tenant",
            ExpressionAttributeValues=values,
        ),
    )
    if applied:
        return Indexed.UPDATED
    with aws_call(f"dynamodb:GetItem (invitee {what})"):
        stored = adapter.client.get_item(
            TableName=adapter.table_name,
            Key=key.dynamo(),
            ConsistentRead=True,
            ProjectionExpression=f"{marker}, tenant",
        ).get("Item")
    if stored is None:
        return Indexed.GONE
    return Indexed.ALREADY_DONE if marker in stored else Indexed.NO_TENANT


class DynamoBookingIndex(clients.TableAdapter):
    def invitees(
        self, segment: int, segments: int, after: Position | None
    ) -> tuple[list[IndexCandidate], Position | None]:
        items, last = _scan_invitees(self, "GSI3", "PK, SK, tenant, GSI3PK", segment, segments, after)
        found = [
            IndexCandidate(
                pk=item[keys.PK], sk=item[keys.SK], tenant=_text(item.get("tenant")), indexed="GSI3PK" in item
            )
            for item in items
        ]
        return found, last

    def index(self, invitee: IndexCandidate) -> Indexed:
        if not invitee.tenant:
            return Indexed.NO_TENANT
        value = keys.booking_pk(invitee.tenant, invitee.sk.removeprefix(_INVITEE))
        return _set_index(
            self,
            "GSI3PK",
            keys.Key(invitee.pk, invitee.sk),
            "SET GSI3PK = :pk",
            "GSI3PK",
            {":pk": {"S": value}, ":tenant": {"S": invitee.tenant}},
        )


class DynamoTenantIndex(clients.TableAdapter):
    """The ``gsi2-tenant-invitees`` step's store: the same Scan of invitees (projected to their
    keys, ``tenant``, ``start_time`` and ``GSI2SK``); the write sets ``GSI2PK``/``GSI2SK`` on the
    same conditions as GSI3's (still there, still lacking it, still of that connection). An
    invitee without a start of its own is keyed by its event's (one GetItem); without either it
    is ``NO_TENANT``: no page lists it."""

    def invitees(
        self, segment: int, segments: int, after: Position | None
    ) -> tuple[list[IndexCandidate], Position | None]:
        items, last = _scan_invitees(self, "GSI2", "PK, SK, tenant, start_time, GSI2SK", segment, segments, after)
        found = [
            IndexCandidate(
                pk=item[keys.PK],
                sk=item[keys.SK],
                tenant=_text(item.get("tenant")),
                indexed="GSI2SK" in item,
                start_time=_text(item.get("start_time")),
            )
            for item in items
        ]
        return found, last

    def index(self, invitee: IndexCandidate) -> Indexed:
        tenant = invitee.tenant
        start = invitee.start_time or self._event_start(invitee.pk) if tenant else None
        if not tenant or not start:
            return Indexed.NO_TENANT
        sort = keys.tenant_invitee_sk(
            start, invitee.pk.removeprefix(keys.event_pk("")), invitee.sk.removeprefix(_INVITEE)
        )
        return _set_index(
            self,
            "GSI2 keys",
            keys.Key(invitee.pk, invitee.sk),
            "SET GSI2PK = :pk, GSI2SK = :sk",
            "GSI2SK",
            {":pk": {"S": keys.tenant_pk(tenant)}, ":sk": {"S": sort}, ":tenant": {"S": tenant}},
        )

    def _event_start(self, pk: str) -> str | None:
        with aws_call("dynamodb:GetItem (invitee's event start)"):
            found = self.client.get_item(
                TableName=self.table_name,
                Key=keys.Key(pk, keys.event("").sk).dynamo(),
                ProjectionExpression="start_time",
            ).get("Item")
        return _text(plain_item(found or {}).get("start_time"))


class DynamoMigrationLog(clients.TableAdapter):
    def completed(self) -> dict[str, str]:
        return {
            str(item[keys.SK]).removeprefix(keys.migration("").sk): str(item.get("completed_at"))
            for item in query_items(
                self.client,
                "migrations",
                TableName=self.table_name,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.MIGRATIONS_PK}},
                ConsistentRead=True,
            )
        }

    def record(self, step: str, completed_at: str, counts: Mapping[str, int]) -> None:
        item = {
            **keys.migration(step).attributes(),
            "type": "migration",
            "step": step,
            "completed_at": completed_at,
            "counts": dict(counts),
        }
        with aws_call("dynamodb:PutItem (migration)"):
            self.client.put_item(TableName=self.table_name, Item=serialise_item(item))
