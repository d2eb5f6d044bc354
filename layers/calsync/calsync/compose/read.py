"""The read API's services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from calsync.aws.clients import Aws

if TYPE_CHECKING:
    from calsync.read.aws_tenant_bookings import DynamoTenantBookings


def tenant_bookings(table_name: str, **aws: Unpack[Aws]) -> DynamoTenantBookings:
    """A connection's bookings a page at a time (``calsync.read.bookings.bookings_page``'s port)."""
    from calsync.read.aws_tenant_bookings import DynamoTenantBookings

    return DynamoTenantBookings(table_name, aws.get("dynamodb"))
