"""Where an address still is, for the erasure tests (in-process and on the local stack)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from calsync.aws.views import ITEM_TYPES, StoredDelivery, view
from calsync.erasure.rules import carries


def items_holding(items: Iterable[Mapping[str, Any]], email: str) -> list[str]:
    """The keys (``PK/SK``) of the items holding the address, stored bodies decoded through
    their views."""
    found = []
    for item in items:
        content: list[Any] = [item]
        if item.get("type") in ITEM_TYPES:
            stored = view(dict(item))
            content.append(stored.body if isinstance(stored, StoredDelivery) else None)
        if carries(content, email):
            found.append(f"{item['PK']}/{item['SK']}")
    return found
