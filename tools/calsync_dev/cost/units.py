"""DynamoDB's capacity arithmetic, as AWS documents it (Developer Guide, "Item sizes and
formats", "Read/write capacity mode", "Global secondary indexes: provisioned throughput
considerations"). Values are in DynamoDB's wire shape (``{"S": "x"}``, ``{"N": "1"}``…).

- An item's size is the sum, over its attributes, of the name's UTF-8 length plus the value's
  size: strings their UTF-8 length; binary their length; numbers about one byte per two
  significant digits plus one; null and boolean one byte; a list or map 3 bytes plus, per
  element, 1 byte plus the element (a map element also its name); sets the sum of elements.
- A write consumes 1 unit per 1 KB (rounded up) of the larger of the item before and after;
  a write whose condition fails consumes the existing item's size (at least 1 unit).
- Each index entry written costs again, per 1 KB of the entry (the table's key, the index's
  key and its projected attributes, plus 100 bytes of overhead): a new entry 1 write, a
  changed index key 2 (delete + put), a removed entry 1, a change of projected attributes 1,
  no change of what the index holds 0.
- A read consumes 1 unit per 4 KB (rounded up) of what it reads (a Query: the sum of every
  item it reads), half for an eventually consistent read; at least one unit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
INDEX_ENTRY_OVERHEAD = 100

Item = Mapping[str, Mapping[str, Any]]


def number_size(text: str) -> int:
    """Bytes of a number: its significant digits (leading and trailing zeros trimmed), two to
    a byte, plus one."""
    digits = Decimal(text).as_tuple().digits
    significant = "".join(map(str, digits)).strip("0") or "0"
    return math.ceil(len(significant) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    match kind:
        case "S":
            return len(str(inner).encode())
        case "N":
            return number_size(str(inner))
        case "B":
            return len(inner)
        case "BOOL" | "NULL":
            return 1
        case "SS":
            return sum(len(s.encode()) for s in inner)
        case "NS":
            return sum(number_size(n) for n in inner)
        case "BS":
            return sum(len(b) for b in inner)
        case "L":
            return 3 + sum(1 + value_size(v) for v in inner)
        case "M":
            return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in inner.items())
    raise ValueError(f"not a DynamoDB attribute value: {kind}")


def item_size(item: Item | None) -> int:
    """An item's size in bytes (0 when there is none)."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> int:
    return max(1, math.ceil(size / WRITE_UNIT_BYTES))


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str  # ALL | KEYS_ONLY | INCLUDE
    include: frozenset[str] = frozenset()

    def entry(self, item: Item | None, table_keys: Sequence[str]) -> dict[str, Any] | None:
        """The index entry an item makes (``None``: the item is not in this sparse index)."""
        if not item or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        kept = {*table_keys, *self.keys, *(self.include if self.projection == "INCLUDE" else ())}
        return {k: v for k, v in item.items() if k in kept}

    def entry_size(self, item: Item | None, table_keys: Sequence[str]) -> int:
        entry = self.entry(item, table_keys)
        return 0 if entry is None else item_size(entry) + INDEX_ENTRY_OVERHEAD

    def write_units(self, old: Item | None, new: Item | None, table_keys: Sequence[str]) -> int:
        """What the index costs for one item's change from ``old`` to ``new``."""
        before, after = self.entry(old, table_keys), self.entry(new, table_keys)
        if before == after:
            return 0
        if before is None:
            return write_units(self.entry_size(new, table_keys))
        if after is None:
            return write_units(self.entry_size(old, table_keys))
        if any(before[k] != after[k] for k in self.keys):  # delete the old entry, put the new
            return write_units(self.entry_size(old, table_keys)) + write_units(self.entry_size(new, table_keys))
        return write_units(self.entry_size(new, table_keys))


@dataclass(frozen=True)
class Table:
    keys: tuple[str, ...]
    indexes: tuple[Index, ...]

    def index(self, name: str) -> Index:
        return next(i for i in self.indexes if i.name == name)

    def write(self, old: Item | None, new: Item | None, *, applied: bool) -> WriteCost:
        """The units one PutItem/UpdateItem/DeleteItem consumes, by table and index."""
        if not applied:  # a failed condition: the existing item's size, at least 1
            return WriteCost(write_units(item_size(old)), {})
        table = write_units(max(item_size(old), item_size(new)))
        by_index = {i.name: i.write_units(old, new, self.keys) for i in self.indexes}
        return WriteCost(table, {k: v for k, v in by_index.items() if v})

    @classmethod
    def from_template(cls, properties: Mapping[str, Any]) -> Table:
        """A table's key and indexes from its ``AWS::DynamoDB::Table`` properties."""
        keys = tuple(k["AttributeName"] for k in properties["KeySchema"])
        indexes = tuple(
            Index(
                name=gsi["IndexName"],
                keys=tuple(k["AttributeName"] for k in gsi["KeySchema"]),
                projection=gsi["Projection"]["ProjectionType"],
                include=frozenset(gsi["Projection"].get("NonKeyAttributes", ())),
            )
            for gsi in properties.get("GlobalSecondaryIndexes", ())
        )
        return cls(keys, indexes)


@dataclass(frozen=True)
class WriteCost:
    table: int
    indexes: dict[str, int]

    @property
    def total(self) -> int:
        return self.table + sum(self.indexes.values())
