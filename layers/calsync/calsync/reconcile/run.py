"""Reconcile one connection: list what Calendly has over windows of meeting start time, under
a budget, compare with what is stored and enqueue, through the normal intake queues, the
deliveries that repair the differences. Every run visits every window in order, each from
its own cursor: a run that cannot finish leaves one for the window it stopped in (the last
start time it completed) and keeps those of the windows it did not reach, so a window too
large for one run is covered over several, never restarted from zero, and the windows
before it are still covered every run.

An event whose invitees Calendly will not list (403, 404, a body that does not parse) is
counted ``unreadable`` and passed; a refusal that may pass (429, 5xx, network, 401) stops
the run in front of the event, for the next run to retry.

The ``submissions`` window walks each routing form's submissions, newest first, down to the
window's start, and repairs those not stored (a stored submission is left as it is). It may
spend half of the calls left when it starts (a page more to finish a form's page in hand), so
the windows after it always get their share: past that it pauses (``partial``) and the run goes on; its cursor names the forms done,
and the next run resumes with the others. An organization whose plan has no routing forms
answers 403: the window is then ``unavailable``, which is not a failure."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from calsync.bookings.records import last_segment, submitter_ref
from calsync.calendly.errors import CalendlyAuthError, CalendlyError, CalendlyRateLimited, CalendlyUnavailable
from calsync.calendly.models import RoutingFormSubmission, ScheduledEvent
from calsync.connections.budget import RateLimited
from calsync.erasure.rules import subject
from calsync.intake.receive import DeliveryQueue
from calsync.intake.routing import route
from calsync.reconcile.budget import Budget, OutOfBudget
from calsync.reconcile.compare import decide
from calsync.reconcile.deliveries import delivery, submission_envelope
from calsync.reconcile.event_types import EventTypesPass, sync_event_types
from calsync.reconcile.ports import Lister, StoredBookings
from calsync.reconcile.report import SUBMISSIONS, Cursor, Report, Window, WindowReport

logger = logging.getLogger(__name__)

IsErased = Callable[[str, datetime], bool]
# Why a run stopped when the connection's shared Calendly budget had no room left this minute.
RATE_BUDGET = "rate budget"


def never_erased(_email: str, _created_at: datetime) -> bool:
    return False


def may_pass(error: CalendlyError) -> bool:
    """A refusal a later run may not meet: rate limit, server or network trouble, the token."""
    if isinstance(error, CalendlyRateLimited | CalendlyUnavailable | CalendlyAuthError):
        return True
    return error.status is not None and (error.status in (401, 429) or error.status >= 500)


class _Stop(Exception):
    def __init__(self, why: str) -> None:
        self.why = why


class _Pause(Exception):
    """The submissions window spent its share of the calls: it resumes at ``cursor``."""

    def __init__(self, cursor: Cursor) -> None:
        self.cursor = cursor


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
        cursors: Iterable[Cursor] = (),
    ) -> Report:
        """``cursors``: where earlier runs stopped, at most one per window."""
        started, began = self.now(), self.monotonic()
        windows = list(windows)
        report = Report(connection_id, reason, started, [WindowReport(w.name, w.start, w.end) for w in windows])
        resume = {cursor.window: cursor for cursor in cursors}
        calls_before = self.budget.calls
        try:
            for window, window_report in zip(windows, report.windows, strict=True):
                if report.stopped is not None:  # not reached: it resumes where it was
                    window_report.cursor = resume.get(window.name)
                    continue
                position = resume.get(window.name) or Cursor(window.name, window.start)
                if position.after > window.end:  # the window was shortened since: a new pass
                    position = Cursor(window.name, window.start)
                window_report.resumed_from = position.after if position.after > window.start else None
                try:
                    if window.name == SUBMISSIONS:
                        window_report.resumed_from = None  # its cursor names forms, not a time
                        if not self._submissions(connection_id, organization, window, position, report):
                            window_report.coverage = "unavailable"
                            continue
                    else:
                        self._window(connection_id, organization, window, position, report)
                except _Pause as pause:
                    window_report.coverage = "partial"
                    window_report.cursor = pause.cursor
                    continue
                except _Stop as stop:
                    window_report.coverage = "partial"
                    window_report.cursor = report.cursor
                    report.stopped = stop.why
                    continue
                window_report.coverage = "covered"
        finally:
            report.api_calls = self.budget.calls - calls_before
            report.duration_seconds = self.monotonic() - began
        return report

    def event_types(self, report: Report, *, organization: str) -> EventTypesPass:
        """The organization's event types through the queue, on what the budget has left; its
        calls are added to the run's ``report.api_calls``."""
        before = self.budget.calls
        try:
            return sync_event_types(
                self.calendly, self.queue, connection_id=report.connection_id, organization=organization, now=self.now
            )
        finally:
            report.api_calls += self.budget.calls - before

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
        except RateLimited:  # the connection's shared minute is spent (a Free plan's 50): resume next run
            report.cursor = position
            raise _Stop(RATE_BUDGET) from None
        except CalendlyError as exc:
            logger.warning(
                "reconcile stopped by calendly",
                extra={"connection_id": connection_id, "status": exc.status, "title": exc.title},
            )
            report.cursor = position
            raise _Stop(f"calendly: {exc.status or ''} {exc.title}".replace("  ", " ")) from None

    def _submissions(self, connection_id: str, organization: str, window: Window, at: Cursor, report: Report) -> bool:
        """Repair the submissions made in the window that are not stored; ``False`` when the
        organization has no routing forms to read (its plan, or the token's scopes: 403/404)."""
        share = self.budget.calls + max(1, (self.budget.max_calls - self.budget.calls) // 2)
        done = list(at.done)  # the forms covered by earlier runs of this pass

        def cursor() -> Cursor:
            return Cursor(window.name, window.start, tuple(done))

        try:
            try:
                forms = list(self.calendly.list_routing_forms(organization=organization))
            except CalendlyError as exc:
                if may_pass(exc):
                    raise
                logger.info(
                    "reconcile found no routing forms to read",
                    extra={"connection_id": connection_id, "status": exc.status, "title": exc.title},
                )
                return False
            for form in forms:
                if form.uri in done:
                    continue
                if self.budget.calls >= share:
                    raise _Pause(cursor())
                for submission in self.calendly.list_routing_form_submissions(form.uri, sort="created_at:desc"):
                    if self.budget.calls > share:  # a further page was needed past the share
                        raise _Pause(cursor())
                    made = submission.created_at or submission.updated_at
                    if made is not None and made < window.start:
                        break  # newest first: the rest are older still
                    if made is None or made <= window.end:
                        self._submission(connection_id, submission, report)
                done.append(form.uri)
        except OutOfBudget as exc:
            report.cursor = cursor()
            raise _Stop(exc.reason) from None
        except RateLimited:
            report.cursor = cursor()
            raise _Stop(RATE_BUDGET) from None
        except CalendlyError as exc:
            logger.warning(
                "reconcile stopped by calendly",
                extra={"connection_id": connection_id, "status": exc.status, "title": exc.title},
            )
            report.cursor = cursor()
            raise _Stop(f"calendly: {exc.status or ''} {exc.title}".replace("  ", " ")) from None
        return True

    def _submission(self, connection_id: str, submission: RoutingFormSubmission, report: Report) -> None:
        report.counts["submissions_seen"] += 1
        uuid = last_segment(submission.uri)
        envelope = submission_envelope(submission)
        if uuid is None or envelope is None:
            report.counts["unordered"] += 1
            return
        if self.stored.has_submission(uuid, submitter_ref(submission.submitter, submission.submitter_type)):
            return
        emails, made = subject(envelope, "")
        if any(self.is_erased(email, made) for email in emails):
            report.counts["erased"] += 1
            return
        report.counts["missing"] += 1
        self.queue.send(route(envelope.event), delivery(connection_id, envelope, self.now()))
        report.counts["repaired"] += 1

    def _event(self, connection_id: str, event: ScheduledEvent, report: Report) -> None:
        # All of the event's invitees first: a run stopped while listing them has enqueued
        # nothing for the event, and the next one does it whole.
        try:
            invitees = list(self.calendly.list_event_invitees(event.uri))
        except CalendlyError as exc:
            if may_pass(exc):
                raise
            logger.warning(
                "reconcile passed an event whose invitees cannot be read",
                extra={"connection_id": connection_id, "event": event.uri, "status": exc.status, "title": exc.title},
            )
            report.counts["unreadable"] += 1
            return
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
