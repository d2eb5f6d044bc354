"""The read API's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Unpack

from calsync import config
from calsync.aws.clients import Aws
from calsync.errors import DependencyUnavailable

if TYPE_CHECKING:
    from calsync.read.aws_connections import DynamoConnectionsReader
    from calsync.read.aws_tenant_bookings import DynamoTenantBookings
    from calsync.read.aws_tenant_items import DynamoTenantItems
    from calsync.read.bookings import BookingLookup, TenantBookings
    from calsync.read.connections import ConnectionsReader
    from calsync.read.events import EventReader
    from calsync.read.kinds import KindsReader
    from calsync.read.reports import ReportsReader
    from calsync.reconcile.aws_state import DynamoReconcileState


def tenant_bookings(table_name: str, **aws: Unpack[Aws]) -> DynamoTenantBookings:
    """A connection's bookings a page at a time (``calsync.read.bookings.bookings_page``'s port)."""
    from calsync.read.aws_tenant_bookings import DynamoTenantBookings

    return DynamoTenantBookings(table_name, aws.get("dynamodb"))


def tenant_items(table_name: str, **aws: Unpack[Aws]) -> DynamoTenantItems:
    """One booking or one event of a connection (``read.bookings.get_booking``'s and
    ``read.events.get_event``'s port)."""
    from calsync.read.aws_tenant_items import DynamoTenantItems

    return DynamoTenantItems(table_name, aws.get("dynamodb"))


def connections_reader(table_name: str, **aws: Unpack[Aws]) -> DynamoConnectionsReader:
    """The registered connections and their latest reports (``read.connections``' port)."""
    from calsync.read.aws_connections import DynamoConnectionsReader

    return DynamoConnectionsReader(table_name, aws.get("dynamodb"))


def reports_reader(table_name: str, **aws: Unpack[Aws]) -> DynamoReconcileState:
    """A connection's latest completeness reports (``read.reports.latest_reports``' port)."""
    from calsync.reconcile.aws_state import DynamoReconcileState

    return DynamoReconcileState(table_name, aws.get("dynamodb"))


def kinds_reader(table_name: str, **aws: Unpack[Aws]) -> KindsReader:
    """A connection's meeting recaps and contacts (``read.kinds``' port)."""
    from calsync.read.aws_kinds import DynamoKindsReader

    return DynamoKindsReader(table_name, aws.get("dynamodb"))


@dataclass(frozen=True, slots=True)
class ReadApi:
    """What the read API's handler needs: each read's port, whether a connection is registered,
    and the cursor key (read on first use, then kept for the instance's life)."""

    bookings: TenantBookings
    exists: Callable[[str], bool]
    cursor_key: Callable[[], bytes]
    connections: ConnectionsReader
    booking: BookingLookup
    events: EventReader
    reports: ReportsReader
    kinds: KindsReader | None = None  # meeting recaps and contacts (issue 21)


def read_api(settings: config.ReadApiSettings, **aws: Unpack[Aws]) -> ReadApi:
    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.connections.aws_registry import DynamoConnectionIds

    secret = CachedJsonSecret(
        settings.cursor_key_secret_name, client=aws.get("secretsmanager"), ttl_seconds=float("inf"), what="cursor key"
    )

    def cursor_key() -> bytes:
        key = secret.get().get("key")
        if not isinstance(key, str) or len(key) < 32:
            raise DependencyUnavailable("the cursor key secret holds no usable key")
        return key.encode()

    table = settings.bookings_table_name
    items = tenant_items(table, **aws)
    return ReadApi(
        bookings=tenant_bookings(table, **aws),
        exists=DynamoConnectionIds(table, aws.get("dynamodb")).exists,
        cursor_key=cursor_key,
        connections=connections_reader(table, **aws),
        booking=items,
        events=items,
        reports=reports_reader(table, **aws),
        kinds=kinds_reader(table, **aws),
    )
