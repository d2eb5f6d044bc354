"""Reconcile one connection: list what Calendly has over windows of meeting start time, under
a budget, compare with what is stored and enqueue, through the normal intake queues, the
deliveries that repair the differences. A run that cannot finish leaves a cursor; the next
run resumes there (in the window it stopped in, from the last start time it completed), so
a window too large for one run is covered over several, never restarted from zero."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from calsync.calendly.errors import CalendlyError
from calsync.calendly.models import ScheduledEvent
from calsync.reconcile.budget import Budget, OutOfBudget
from calsync.reconcile.compare import decide
from calsync.reconcile.deliveries import delivery
from calsync.reconcile.ports import Lister, StoredBookings
from calsync.reconcile.report import Cursor, Report, Window, WindowReport
from calsync.webhooks.receiver import DeliveryQueue
from calsync.webhooks.routing import route

logger = logging.getLogger(__name__)

IsErased = Callable[[str, datetime], bool]


def never_erased(_email: str, _created_at: datetime) -> bool:
    return False


class _Stop(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


@dataclass
class Reconciler:
    calendly: Lister
    stored: StoredBookings
    queue: DeliveryQueue
    budget: Budget
    is_erased: IsErased = never_erased
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    on_event: Callable[[Report], None] | None = None  # progress: called after each event
    monotonic: Callable[[], float] = time.monotonic

    def run(
        self,
        *,
        connection_id: str,
        organization: str,
        windows: Iterable[Window],
        reason: str,
        cursor: Cursor | None = None,
    ) -> Report:
        started, began = self.now(), self.monotonic()
        windows = list(windows)
        report = Report(connection_id, reason, started, [WindowReport(w.name, w.start, w.end) for w in windows])
        resume = cursor if cursor is not None and any(w.name == cursor.window for w in windows) else None
        calls_before = self.budget.calls
        try:
            for window, window_report in zip(windows, report.windows, strict=True):
                if resume is not None and window.name != resume.window:
                    window_report.coverage = "covered earlier"
                    continue
                position = resume if resume is not None else Cursor(window.name, window.start)
                resume = None
                window_report.resumed_from = position.after if position.after > window.start else None
                try:
                    self._window(connection_id, organization, window, position, report)
                except _Stop as stop:
                    window_report.coverage = "partial"
                    report.stopped = stop.why
                    break
                window_report.coverage = "covered"
        finally:
            report.api_calls = self.budget.calls - calls_before
            report.duration_seconds = self.monotonic() - began
        return report

    def _window(self, connection_id: str, organization: str, window: Window, at: Cursor, report: Report) -> None:
        start = max(window.start, at.after)
        position = at
        try:
            events = self.calendly.list_scheduled_events(
                organization=organization, min_start_time=start, max_start_time=window.end, sort="start_time:asc"
            )
            for event in events:
                if event.start_time < position.after or (
                    event.start_time == position.after and event.uri in position.done
                ):
                    continue
                self._event(connection_id, event, report)
                if event.start_time == position.after:
                    position = Cursor(window.name, position.after, (*position.done, event.uri))
                else:
                    position = Cursor(window.name, event.start_time, (event.uri,))
                if self.on_event is not None:
                    self.on_event(report)
        except OutOfBudget as exc:
            report.cursor = position
            raise _Stop(exc.reason) from None
        except CalendlyError as exc:
            logger.warning(
                "reconcile stopped by calendly",
                extra={"connection_id": connection_id, "status": exc.status, "title": exc.title},
            )
            report.cursor = position
            raise _Stop(f"calendly: {exc.status or ''} {exc.title}".replace("  ", " ")) from None

    def _event(self, connection_id: str, event: ScheduledEvent, report: Report) -> None:
        # All of the event's invitees first: a run stopped while listing them has enqueued
        # nothing for the event, and the next one does it whole.
        invitees = list(self.calendly.list_event_invitees(event.uri))
        stored = self.stored.invitees_of(event.uri)
        report.counts["events_seen"] += 1
        received_at = self.now()
        for invitee in invitees:
            erased = bool(invitee.email) and self.is_erased(
                str(invitee.email), invitee.created_at or invitee.updated_at or event.start_time
            )
            decision = decide(event, invitee, stored.get(invitee.uri), erased=erased)
            for envelope in decision.repairs:
                self.queue.send(route(envelope.event), delivery(connection_id, envelope, received_at))
            report.count(decision.verdict, bool(decision.repairs))
