"""Erasure's records in the bookings table: tombstones (the keyed hash of an erased address
and when it was erased; what processors and the reconciler check) and the PII-free audit
record of each erasure (``ports.Tombstones``, ``ports.Audit``). Finding and removing the
person's data is ``aws_sweep``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from calsync import timefmt
from calsync.aws import clients, keys
from calsync.aws.dynamo import conditional, query_items, serialise_item
from calsync.aws.errors import aws_call
from calsync.aws.secret_json import CachedJsonSecret
from calsync.erasure.rules import GLOBAL, IsErased, address_hash, erased_at
from calsync.errors import DependencyUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

KEY_FIELD = "key"  # the erasure key secret is {"key": "<random>"} (CloudFormation generates it)


class DynamoTombstones:
    """``is_erased(email, at)``: one GetItem (only for a delivery carrying an address); the
    hash key is read from its secret once per cold start."""

    def __init__(self, table_name: str, key_secret: CachedJsonSecret, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._key_secret = key_secret
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client or clients.dynamodb()

    def address_hash(self, email: str) -> str:
        key = self._key_secret.get().get(KEY_FIELD)
        if not isinstance(key, str) or not key:
            raise DependencyUnavailable(f"the erasure key secret {self._key_secret.name} holds no {KEY_FIELD!r}")
        return address_hash(key.encode(), email)

    def erasures(self, email: str) -> dict[str, datetime]:
        """Every tombstone of the address, scope (``rules.GLOBAL`` or a connection id) → when:
        one consistent Query of the person's partition (an erasure takes effect at once)."""
        items = query_items(
            self.client,
            "tombstone",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.tombstone(self.address_hash(email)).pk}},
            ConsistentRead=True,
            ProjectionExpression="SK, erased_at",
        )
        found: dict[str, datetime] = {}
        for item in items:
            stamp, sk = item.get("erased_at"), str(item.get(keys.SK))
            if isinstance(stamp, str):
                scoped = sk.startswith(keys.TOMBSTONE_SCOPED_PREFIX)
                found[sk.removeprefix(keys.TOMBSTONE_SCOPED_PREFIX) if scoped else GLOBAL] = timefmt.parse(stamp)
        return found

    def erased_at(self, email: str, connection_id: str | None = None) -> datetime | None:
        """When the address was (last) erased in a scope covering data of ``connection_id``
        (``None``: any scope), or ``None``."""
        return erased_at(self.erasures(email), connection_id)

    def is_erased(self, email: str, at: datetime, connection_id: str | None = None) -> bool:
        """True when ``email`` was erased, in a scope covering ``connection_id``'s data, after
        ``at`` (data dated ``at`` must stay gone)."""
        erased = self.erased_at(email, connection_id)
        return erased is not None and at < erased

    def erased_in(self, connection_id: str | None) -> IsErased:
        """``is_erased`` for data of one connection (``rules.ErasedIn``)."""
        return lambda email, at: self.is_erased(email, at, connection_id)

    def put(self, email: str, at: datetime, connection_id: str | None = None) -> str:
        """Tombstone the address at ``at``, everywhere or (``connection_id``) in that connection's
        data only (a later erasure moves the time forward, an earlier one changes nothing); the
        hash it keeps."""
        digest = self.address_hash(email)
        conditional(
            "dynamodb:UpdateItem (tombstone)",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=keys.tombstone(digest, connection_id).dynamo(),
                UpdateExpression="SET #t = :t, address_hash = :h, erased_at = :at, #s = :s",
                ConditionExpression="attribute_not_exists(erased_at) OR erased_at < :at",
                ExpressionAttributeNames={"#t": "type", "#s": "scope"},
                ExpressionAttributeValues={
                    ":t": {"S": "tombstone"},
                    ":h": {"S": digest},
                    ":at": {"S": timefmt.sortable(at)},
                    ":s": {"S": connection_id or GLOBAL},
                },
            ),
        )
        return digest


class ErasureAudit(clients.TableAdapter):
    """One record per erasure: when, by whom, the hash, counts per store, Calendly's answer."""

    def record(self, *, erased_at: datetime, record: Mapping[str, Any], erasure_id: str | None = None) -> str:
        erasure_id = erasure_id or uuid.uuid4().hex[:12]
        key = keys.erasure(timefmt.sortable(erased_at), erasure_id)
        item = serialise_item(
            {
                **key.attributes(),
                "type": "erasure",
                "erasure_id": erasure_id,
                "erased_at": timefmt.sortable(erased_at),
                **record,
            },
            skip_none=True,
        )
        with aws_call("dynamodb:PutItem (erasure audit)"):
            self.client.put_item(TableName=self.table_name, Item=item)
        return erasure_id

    def records(self) -> list[dict[str, Any]]:
        """Every erasure's record, oldest first (one Query)."""
        return [
            {k: v for k, v in item.items() if k not in keys.KEY_ATTRIBUTES}
            for item in query_items(
                self.client,
                "erasure audit",
                TableName=self.table_name,
                KeyConditionExpression="PK = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.ERASURES_PK}},
            )
        ]
