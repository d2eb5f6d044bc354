"""A reconcile an operator starts (``calsync reconcile``, its alias ``calsync backfill``, or any
function acting for one): over the scheduled windows, resuming the connection's cursors, or over
a range of meeting start times of their choice (a gap they know of). Either way the report is
stored with the reason ``manual``.

Over a range, the routing-form submissions made in it come first (none are made in the
future), then the bookings starting in it. Only what differs from what is stored is enqueued,
version-aware, so a run over a range already complete repairs nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from calsync.reconcile.ports import ReconcileState
from calsync.reconcile.report import SUBMISSIONS, Report, Window, scheduled_windows
from calsync.reconcile.run import Reconciler
from calsync.reconcile.scheduled import scheduled

MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Range:
    """Meeting start times ``[since, until]``; either bound may be left open (``None``)."""

    since: datetime | None = None
    until: datetime | None = None

    @property
    def chosen(self) -> bool:
        return self.since is not None or self.until is not None


def range_windows(since: datetime, until: datetime, now: datetime) -> list[Window]:
    """The submissions made in ``[since, min(until, now)]`` (when ``since`` is past), then the
    bookings starting in ``[since, until]``."""
    made = [Window(SUBMISSIONS, since, min(until, now))] if since < now else []
    return [*made, Window(MANUAL, since, until)]


def reconcile(
    reconciler: Reconciler,
    state: ReconcileState,
    *,
    connection_id: str,
    organization: str,
    now: datetime,
    upcoming_days: int,
    recent_days: int,
    span: Range | None = None,
) -> Report:
    """Reconcile one connection now and store the report. Without a ``span`` the scheduled
    windows (recent, submissions, upcoming), resumed where the last run stopped; with one, that
    range: from ``since`` (default: now) to ``until`` (default: ``upcoming_days`` from now)."""
    if span is None or not span.chosen:
        windows = scheduled_windows(now, upcoming_days=upcoming_days, recent_days=recent_days)
        return scheduled(
            reconciler, state, connection_id=connection_id, organization=organization, windows=windows, reason=MANUAL
        )
    since = span.since or now
    until = span.until or now + timedelta(days=upcoming_days)
    report = reconciler.run(
        connection_id=connection_id,
        organization=organization,
        windows=range_windows(since, until, now),
        reason=MANUAL,
    )
    state.put_report(report.as_dict())
    return report
