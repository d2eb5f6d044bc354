"""A reconcile run as the function starts it: scheduled (resuming from the connection's
cursor, leaving one when it cannot finish) or requested (a gap the watchdog asks for; a
request that cannot finish in its budget is continued by a new request from where it
stopped). Every run stores its report."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from calsync.reconcile.ports import ReconcileState
from calsync.reconcile.report import (
    REQUESTED,
    SUBMISSIONS,
    Cursor,
    Report,
    Window,
    cursors_as_dict,
    cursors_from_dict,
)
from calsync.reconcile.requests import ReconcileRequest
from calsync.reconcile.run import Reconciler

SCHEDULED = "scheduled"


class RequestNotProgressing(Exception):
    """A requested reconcile stopped without covering a single event: retried by the queue
    (and dead-lettered if it never progresses), not continued forever."""


@dataclass(frozen=True, slots=True)
class Requested:
    report: Report
    continuation: ReconcileRequest | None  # send it to continue where this run stopped


def scheduled(
    reconciler: Reconciler,
    state: ReconcileState,
    *,
    connection_id: str,
    organization: str,
    windows: list[Window],
    reason: str = SCHEDULED,
) -> Report:
    cursors = cursors_from_dict(state.cursor(connection_id))
    report = reconciler.run(
        connection_id=connection_id, organization=organization, windows=windows, reason=reason, cursors=cursors
    )
    state.save_cursor(connection_id, cursors_as_dict(report.cursors))
    state.put_report(report.as_dict())
    return report


def requested(
    reconciler: Reconciler,
    state: ReconcileState,
    request: ReconcileRequest,
    *,
    organization: str,
    horizon: datetime,
    now: Callable[[], datetime],
) -> Requested:
    """``horizon``: the end of the window when the request names none (the upcoming window's).
    The first run covers the routing-form submissions made since the gap began, first and on
    at most half of its calls; a continuation covers only the rest of the bookings (submissions
    it could not reach are the scheduled runs' to cover: they walk the recent days)."""
    window = Window(REQUESTED, request.since, request.until or horizon)
    submissions = [] if request.continuation else [Window(SUBMISSIONS, request.since, now())]
    resume = Cursor(REQUESTED, request.since, request.done_at_since) if request.done_at_since else None
    report = reconciler.run(
        connection_id=request.connection_id,
        organization=organization,
        windows=[*submissions, window],
        reason=f"requested: {request.reason}",
        cursors=[resume] if resume else (),
    )
    state.put_report(report.as_dict())
    if report.cursor is None:
        return Requested(report, None)
    if report.counts["events_seen"] + report.counts["unreadable"] == 0:
        raise RequestNotProgressing(f"reconcile of {request.connection_id} stopped at once: {report.stopped}")
    continuation = request.model_copy(
        update={
            "since": report.cursor.after,
            "until": window.end,
            "requested_at": now(),
            "done_at_since": report.cursor.done,
            "continuation": True,
        }
    )
    return Requested(report, continuation)
