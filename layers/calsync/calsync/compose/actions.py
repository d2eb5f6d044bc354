"""The actions API's services (the function, ``calsync book|cancel|no-show``, ``calsync mcp --allow-actions``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Unpack

from calsync import config
from calsync.aws.clients import Aws
from calsync.calendly.limits import INTERACTIVE
from calsync.compose.bookings import bookings_repository
from calsync.compose.connections import Connections, connections
from calsync.compose.erasure import tombstones

if TYPE_CHECKING:
    from calsync.actions.act import Actions
    from calsync.calendly.client import CalendlyClient
    from calsync.connections.records import Connection


@dataclass(frozen=True, slots=True)
class ConnectionCalendly:
    """``actions.act.CalendlyAccess``: a client on the connection's managed token (refetched on a
    401), within interactive limits (an API caller is waiting: a 429 is waited out at most once, 2 s)."""

    connections: Connections

    def client_for(self, connection: Connection) -> CalendlyClient:
        # The per-connection Calendly budget (issue 20) plugs in here, as the reconciler's does:
        # ``on_request=budget.spend`` (and its ``sleep``), one budget shared by every caller.
        return self.connections.calendly_for(connection, INTERACTIVE)


def actions(
    settings: config.ActionsApiSettings,
    *,
    calendly_options: Mapping[str, Any] | None = None,
    **aws: Unpack[Aws],
) -> Actions:
    from calsync.actions.act import Actions
    from calsync.actions.aws_actions import DynamoActionBookings, DynamoIdempotency

    dynamodb, table = aws.get("dynamodb"), settings.bookings_table_name
    linked = connections(settings, calendly_options=calendly_options, **aws)
    erased = tombstones(table, settings.erasure_key_secret_name, **aws)
    return Actions(
        connections=linked.registry,
        calendly=ConnectionCalendly(linked),
        repository=bookings_repository(table, dynamodb=dynamodb),
        bookings=DynamoActionBookings(table, dynamodb),
        idempotency=DynamoIdempotency(table, dynamodb),
        archive_ttl=timedelta(days=settings.archive_ttl_days),
        erased_in=erased.erased_in,
        api_base=settings.calendly_api_url,
    )
