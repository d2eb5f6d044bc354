"""Erasure's records in memory: tombstones (``erasure.aws_tombstones.DynamoTombstones``: what the
processors' and reconciler's ``IsErased`` check reads) and the audit record of each erasure
(``ErasureAudit``). tests/contract/test_erasure.py runs the same behaviour against both on moto.
(Finding and removing a person's data, ``erasure.aws_sweep``, reads the whole store: no fake.)"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from calsync.aws import keys
from calsync.erasure.rules import GLOBAL, IsErased, address_hash, erased_at
from tests.fakes.table import MemoryTable


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FakeTombstones:
    """``key``: the erasure key (the secret's ``key``); ``asked``: the addresses read, in order."""

    def __init__(self, key: str = "erasure-test-key", table: MemoryTable | None = None) -> None:
        self.key = key
        self.table = table if table is not None else MemoryTable()
        self.asked: list[str] = []

    def address_hash(self, email: str) -> str:
        return address_hash(self.key.encode(), email)

    def erasures(self, email: str) -> dict[str, datetime]:
        self.asked.append(email)
        self.table.check("erased_at")
        found: dict[str, datetime] = {}
        for key, item in self.table.partition(keys.tombstone(self.address_hash(email)).pk):
            scoped = key.sk.startswith(keys.TOMBSTONE_SCOPED_PREFIX)
            scope = key.sk.removeprefix(keys.TOMBSTONE_SCOPED_PREFIX) if scoped else GLOBAL
            found[scope] = datetime.fromisoformat(item["erased_at"].replace("Z", "+00:00"))
        return found

    def erased_at(self, email: str, connection_id: str | None = None) -> datetime | None:
        return erased_at(self.erasures(email), connection_id)

    def is_erased(self, email: str, at: datetime, connection_id: str | None = None) -> bool:
        erased = self.erased_at(email, connection_id)
        return erased is not None and at < erased

    def erased_in(self, connection_id: str | None) -> IsErased:
        return lambda email, at: self.is_erased(email, at, connection_id)

    def put(self, email: str, at: datetime, connection_id: str | None = None) -> str:
        self.table.check("put")
        digest = self.address_hash(email)
        key = keys.tombstone(digest, connection_id)
        stored = (self.table.item(key) or {}).get("erased_at")
        if stored is None or stored < _iso(at):
            scope = connection_id or GLOBAL
            self.table.update(key, {"type": "tombstone", "address_hash": digest, "erased_at": _iso(at), "scope": scope})
        return digest


class FakeErasureAudit:
    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table if table is not None else MemoryTable()
        self._ids = itertools.count(1)

    def record(self, *, erased_at: datetime, record: Mapping[str, Any]) -> str:
        erasure_id = f"{next(self._ids):012x}"
        attributes = {"type": "erasure", "erasure_id": erasure_id, "erased_at": _iso(erased_at), **record}
        self.table.put(keys.erasure(_iso(erased_at), erasure_id), attributes, skip_none=True)
        return erasure_id

    def records(self) -> list[dict[str, Any]]:
        """Every erasure's record, oldest first."""
        return [item for _, item in self.table.partition(keys.ERASURES_PK)]
