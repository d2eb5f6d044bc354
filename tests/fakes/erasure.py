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
from calsync.erasure.rules import address_hash
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

    def erased_at(self, email: str) -> datetime | None:
        self.asked.append(email)
        self.table.check("erased_at")
        stamp = (self.table.item(keys.tombstone(self.address_hash(email))) or {}).get("erased_at")
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")) if isinstance(stamp, str) else None

    def is_erased(self, email: str, at: datetime) -> bool:
        erased = self.erased_at(email)
        return erased is not None and at < erased

    def put(self, email: str, at: datetime) -> str:
        self.table.check("put")
        digest = self.address_hash(email)
        stored = (self.table.item(keys.tombstone(digest)) or {}).get("erased_at")
        if stored is None or stored < _iso(at):
            self.table.update(
                keys.tombstone(digest), {"type": "tombstone", "address_hash": digest, "erased_at": _iso(at)}
            )
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
