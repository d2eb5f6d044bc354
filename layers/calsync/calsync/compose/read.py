"""The read API's services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Unpack

from calsync import config
from calsync.aws.clients import Aws
from calsync.errors import DependencyUnavailable

if TYPE_CHECKING:
    from calsync.read.aws_tenant_bookings import DynamoTenantBookings
    from calsync.read.bookings import TenantBookings


def tenant_bookings(table_name: str, **aws: Unpack[Aws]) -> DynamoTenantBookings:
    """A connection's bookings a page at a time (``calsync.read.bookings.bookings_page``'s port)."""
    from calsync.read.aws_tenant_bookings import DynamoTenantBookings

    return DynamoTenantBookings(table_name, aws.get("dynamodb"))


@dataclass(frozen=True, slots=True)
class ReadApi:
    """What the read API's handler needs: the bookings port, whether a connection is registered,
    and the cursor key (read on first use, then kept for the instance's life)."""

    bookings: TenantBookings
    exists: Callable[[str], bool]
    cursor_key: Callable[[], bytes]


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

    return ReadApi(
        bookings=tenant_bookings(settings.bookings_table_name, **aws),
        exists=DynamoConnectionIds(settings.bookings_table_name, aws.get("dynamodb")).exists,
        cursor_key=cursor_key,
    )
