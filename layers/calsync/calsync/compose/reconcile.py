"""The reconciler's services (the function, ``calsync reconcile`` over a range, the tests)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Unpack

from calsync import config
from calsync.aws.clients import Aws
from calsync.calendly.limits import RECONCILE
from calsync.compose.bookings import bookings_repository
from calsync.compose.connections import Connections, connections, reconcile_requests
from calsync.compose.erasure import tombstones
from calsync.compose.intake import intake_queue
from calsync.connections.each import RemainingMs, seconds_left

if TYPE_CHECKING:
    from calsync.calendly.client import CalendlyClient
    from calsync.connections.records import Connection
    from calsync.erasure.aws_tombstones import DynamoTombstones
    from calsync.intake.aws_queues import SqsDeliveryQueue
    from calsync.reconcile.aws_requests import SqsReconcileRequests
    from calsync.reconcile.aws_state import DynamoReconcileState, DynamoStoredBookings
    from calsync.reconcile.budget import Budget
    from calsync.reconcile.report import Report
    from calsync.reconcile.run import Reconciler
    from calsync.reconcile.scheduled import Jobs


@dataclass(frozen=True, slots=True)
class Reconciling:
    settings: config.ReconcilerSettings
    connections: Connections
    stored: DynamoStoredBookings
    state: DynamoReconcileState
    queue: SqsDeliveryQueue
    requests: SqsReconcileRequests
    tombstones: DynamoTombstones

    def reconciler_for(
        self,
        connection: Connection,
        budget: Budget,
        *,
        on_event: Callable[[Any], None] | None = None,
    ) -> tuple[Reconciler, CalendlyClient]:
        """A reconciler whose client spends ``budget`` on every request (retries included) and
        waits out a 429 only within its deadline. Close the client when done."""
        from calsync.reconcile.run import Reconciler

        client = self.connections.calendly_for(connection, RECONCILE, on_request=budget.spend, sleep=budget.sleep)
        erased = self.tombstones.erased_in(connection.connection_id)  # its scope: everywhere or this one
        return Reconciler(client, self.stored, self.queue, budget, erased, on_event=on_event), client

    def jobs(self, remaining_ms: RemainingMs, *, report: Callable[[Report], None]) -> Jobs:
        """The function's scheduled and requested runs, within the invocation's remaining time."""
        from calsync.reconcile.scheduled import Jobs

        s, ports = self.settings, (self.connections.registry, self.reconciler_for, self.state, self.requests)
        limits = (s.reconcile_api_calls, s.reconcile_upcoming_days, s.reconcile_recent_days, seconds_left(remaining_ms))
        return Jobs(*ports, *limits, report=report)


def reconciling(
    settings: config.ReconcilerSettings,
    *,
    calendly_options: Mapping[str, Any] | None = None,
    **aws: Unpack[Aws],
) -> Reconciling:
    """The reconciler's services (the function, ``calsync reconcile`` and the tests)."""
    from calsync.reconcile.aws_state import DynamoReconcileState, DynamoStoredBookings

    dynamodb, secretsmanager = aws.get("dynamodb"), aws.get("secretsmanager")
    return Reconciling(
        settings=settings,
        connections=connections(settings, calendly_options=calendly_options, **aws),
        stored=DynamoStoredBookings(bookings_repository(settings.bookings_table_name, dynamodb=dynamodb)),
        state=DynamoReconcileState(settings.bookings_table_name, dynamodb),
        queue=intake_queue(settings, aws),
        requests=reconcile_requests(settings, **aws),
        tombstones=tombstones(
            settings.bookings_table_name,
            settings.erasure_key_secret_name,
            dynamodb=dynamodb,
            secretsmanager=secretsmanager,
        ),
    )
