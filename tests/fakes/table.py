"""The bookings table in memory, for the fakes of the ports whose AWS adapters keep their items
in it (bookings, lifecycle images and claims, the ledger, the registry, reconcile state,
tombstones): items by their ``calsync.aws.keys`` key, attributes as plain values (what
``plain_item`` reads back from DynamoDB), without the table's and indexes' key attributes.

Fakes sharing one ``MemoryTable`` see each other's writes, as the adapters sharing the table do.
``fail`` names operations that raise ``DependencyUnavailable`` (a store that is down).
``changes`` is the table's stream: ``(key, old, new)`` for each write that changed an item (as
AWS records them: a write that changes nothing has no record; a deleted item's ``new`` is None).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

from calsync.aws import keys
from calsync.errors import DependencyUnavailable


def plain(value: Any) -> Any:
    """A value as DynamoDB stores and gives it back: JSON-shaped, whole floats as ints."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return plain(json.loads(json.dumps(value, default=str)))


class MemoryTable:
    def __init__(self) -> None:
        self.items: dict[keys.Key, dict[str, Any]] = {}
        self.fail: set[str] = set()
        self.changes: list[tuple[keys.Key, dict[str, Any] | None, dict[str, Any] | None]] = []

    def _write(self, key: keys.Key, new: dict[str, Any] | None) -> None:
        old = self.items.get(key)
        if new == old:
            return
        if new is None:
            del self.items[key]
        else:
            self.items[key] = new
        self.changes.append((key, copy.deepcopy(old), copy.deepcopy(new)))

    def take_changes(self) -> list[tuple[keys.Key, dict[str, Any] | None, dict[str, Any] | None]]:
        """The stream records since the last call (a stream consumer's next batch)."""
        taken, self.changes = self.changes, []
        return taken

    def check(self, operation: str) -> None:
        """Raise ``DependencyUnavailable`` when ``operation`` is set to fail."""
        if operation in self.fail or "*" in self.fail:
            raise DependencyUnavailable(f"dynamodb {operation} failed: ServiceUnavailable")

    def item(self, key: keys.Key) -> dict[str, Any] | None:
        """The stored attributes at ``key`` (a copy), or ``None``."""
        found = self.items.get(key)
        return copy.deepcopy(found) if found is not None else None

    def put(self, key: keys.Key, attributes: Mapping[str, Any], *, skip_none: bool = False) -> None:
        self._write(key, {k: plain(v) for k, v in attributes.items() if not (skip_none and v is None)})

    def put_new(self, key: keys.Key, attributes: Mapping[str, Any], *, skip_none: bool = False) -> bool:
        """Put unless an item is there (``attribute_not_exists(PK)``); whether it was put."""
        if key in self.items:
            return False
        self.put(key, attributes, skip_none=skip_none)
        return True

    def update(self, key: keys.Key, values: Mapping[str, Any], *, if_absent: Mapping[str, Any] | None = None) -> None:
        """SET ``values``, and each of ``if_absent`` only where absent (an item is made if none)."""
        item = copy.deepcopy(self.items.get(key, {}))
        item.update({k: plain(v) for k, v in values.items()})
        for name, value in (if_absent or {}).items():
            item.setdefault(name, plain(value))
        self._write(key, item)

    def remove(self, key: keys.Key, *names: str) -> None:
        """REMOVE the named attributes of the item at ``key`` (if there is one)."""
        if key in self.items:
            self._write(key, {k: v for k, v in self.items[key].items() if k not in names})

    def delete(self, key: keys.Key) -> None:
        if key in self.items:
            self._write(key, None)

    def partition(self, pk: str) -> list[tuple[keys.Key, dict[str, Any]]]:
        """The items under one partition key, in sort-key order (a Query on ``PK``)."""
        return [(key, copy.deepcopy(item)) for key, item in sorted(self.items.items()) if key.pk == pk]
