"""Data migrations: what ``calsync migrate``'s steps read and write."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from calsync.aws.clients import Aws

if TYPE_CHECKING:
    from calsync.migrate.steps import MigrationStores


def migrations(table_name: str, **aws: Unpack[Aws]) -> MigrationStores:
    """The bookings table's invitees (``migrate.booking_index``'s port, for GSI3 and for GSI2) and
    the record of completed steps."""
    from calsync.migrate.aws_migrations import DynamoBookingIndex, DynamoMigrationLog, DynamoTenantIndex
    from calsync.migrate.steps import MigrationStores

    dynamodb = aws.get("dynamodb")
    return MigrationStores(
        booking_index=DynamoBookingIndex(table_name, dynamodb),
        log=DynamoMigrationLog(table_name, dynamodb),
        tenant_index=DynamoTenantIndex(table_name, dynamodb),
    )
