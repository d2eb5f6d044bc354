"""Backfill a gap from Calendly's API: when a subscription was disabled or missing (the
watchdog records since when), deliveries were lost. This reads the organization's scheduled
events in a start-time window with their invitees, and enqueues, for each invitee, the
delivery Calendly would have sent for its current state (``invitee.created`` or
``invitee.canceled``, plus ``invitee_no_show.created`` when marked and
``invitee_no_show.deleted`` when not, so a mark removed during the gap is cleared). The
processors apply them like any webhook: version-aware, so what is already stored and newer
is untouched, and running a backfill twice changes nothing.

The derivation (and how a no-show removal is dated) lives in ``calsync.reconcile.deliveries``,
shared with the reconciler, which, unlike a backfill, compares with what is stored and sends
only the differences, under a budget, leaving a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from calsync.calendly.client import CalendlyClient
from calsync.intake.receive import DeliveryQueue
from calsync.intake.routing import route
from calsync.reconcile.deliveries import delivery, envelopes

__all__ = ["BackfillResult", "backfill", "delivery", "envelopes"]


@dataclass
class BackfillResult:
    events: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # invitees without any timestamp to order them by

    @property
    def total(self) -> int:
        return sum(self.deliveries.values())


class BackfillProgress(Protocol):
    def advance(self, n: int = 1) -> None: ...
    def note(self, **counts: object) -> None: ...


def backfill(
    calendly: CalendlyClient,
    queue: DeliveryQueue,
    *,
    connection_id: str,
    organization: str,
    since: datetime,
    until: datetime,
    now: datetime,
    progress: BackfillProgress | None = None,
) -> BackfillResult:
    """Enqueue the deliveries; ``progress`` (if given) is told each one and the running counts."""
    result = BackfillResult()
    for event in calendly.list_scheduled_events(organization=organization, min_start_time=since, max_start_time=until):
        result.events += 1
        for invitee in calendly.list_event_invitees(str(event.uri)):
            sent = 0
            for envelope in envelopes(event, invitee):
                queue.send(route(envelope.event), delivery(connection_id, envelope, now))
                name = str(envelope.event)
                result.deliveries[name] = result.deliveries.get(name, 0) + 1
                sent += 1
                if progress is not None:
                    progress.advance()
            result.skipped += sent == 0
        if progress is not None:
            progress.note(events=result.events, skipped=result.skipped)
    return result
