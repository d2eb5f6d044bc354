"""The analytics lake: what ``calsync lake backfill`` reads (the stored bookings, a scan segment at a time)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from calsync.aws.clients import Aws

if TYPE_CHECKING:
    from calsync.analytics.aws_stored import StoredItems


def stored_items(table_name: str, **aws: Unpack[Aws]) -> StoredItems:
    """The bookings table's bookings, submissions and tombstones, for the lake's backfill."""
    from calsync.analytics.aws_stored import StoredItems

    return StoredItems(table_name, aws.get("dynamodb"))
