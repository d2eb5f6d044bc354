"""A reconcile run as the function starts it: scheduled (resuming from the connection's
cursor, leaving one when it cannot finish) or requested (a gap the watchdog asks for; a
request that cannot finish in its budget is continued by a new request from where it
stopped). Every run stores its report.

``Jobs`` is what the reconciler function does with them: on its schedule, every active
connection (``connections.each``: one broken connection never stops the others; each gets its
share of the time left, so none starves the ones after it; with too little time left the rest
wait for the next run, their cursors kept); from the requests queue, one requested gap, its
continuation sent when it cannot finish."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync.connections.each import Failure, each_connection, unbounded
from calsync.connections.records import Connection
from calsync.reconcile.budget import Budget
from calsync.reconcile.ports import ConnectionRecords, ReconcilerFor, ReconcileState, RequestQueue
from calsync.reconcile.report import (
    REQUESTED,
    SUBMISSIONS,
    Cursor,
    Report,
    Window,
    cursors_as_dict,
    cursors_from_dict,
    scheduled_windows,
)
from calsync.reconcile.requests import ReconcileRequest
from calsync.reconcile.run import Reconciler

SCHEDULED = "scheduled"
RESERVE_SECONDS = 60  # left for writing cursors and reports (at most a tenth of the time)


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
    if report.stopped is None:  # the bookings first; the event types with what the budget has left
        reconciler.event_types(report, organization=organization)
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


def calendly_seconds(remaining: float) -> float:
    """Of ``remaining`` seconds, the time a run may still spend on Calendly, the reserve kept."""
    return max(0.0, remaining - min(RESERVE_SECONDS, remaining / 10))


class ReconcileFailed(Exception):
    """Some connections could not be reconciled (each is reported with its cause): raised once
    every other connection is done, for the function's Errors alarm."""


@dataclass(frozen=True, slots=True)
class Schedule:
    """One scheduled invocation: each connection's report, the failed ones, those left."""

    reports: dict[str, Report] = field(default_factory=dict)
    failed: dict[str, Failure] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)  # not started (no time left): the next run does them

    def summary(self) -> dict[str, Any]:
        done = {cid: {"complete": r.complete, "repaired": r.counts["repaired"]} for cid, r in self.reports.items()}
        return {**done, **{cid: {"complete": False, "repaired": 0, "left": True} for cid in self.left}}

    def raise_for_failures(self) -> None:
        if self.failed:
            names = ", ".join(self.failed)
            raise ReconcileFailed(f"reconcile failed for {len(self.failed)} connection(s): {names}")


def _ignore(_: Report) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Jobs:
    """The reconciler function's two jobs over its ports; ``report`` sees every run's report as
    it ends (a connection that could not be reconciled is in the ``Schedule``'s ``failed``)."""

    connections: ConnectionRecords
    reconciler_for: ReconcilerFor
    state: ReconcileState
    requests: RequestQueue
    api_calls: int  # each run's budget of Calendly requests
    upcoming_days: int
    recent_days: int
    time_left: Callable[[], float] = unbounded  # seconds the invocation has left
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    clock: Callable[[], float] = time.monotonic  # the budgets' deadlines are on this clock
    report: Callable[[Report], None] = _ignore

    def budget(self, share: int = 1) -> Budget:
        """The run's budget: its calls, and its ``share`` of the time left for Calendly."""
        return Budget.for_run(self.api_calls, calendly_seconds(self.time_left()) / share, clock=self.clock)

    def every_connection(self) -> Schedule:
        """Every active connection, resuming from its cursor."""
        active = [c for c in self.connections.all() if c.status == "active"]
        started = 0

        def one(connection: Connection) -> Report:
            nonlocal started
            budget = self.budget(share=len(active) - started)  # this one and those after it
            started += 1
            return self._scheduled(connection, budget)

        def failed(connection: Connection, failure: Failure) -> None:
            return None  # the Schedule names it, with its reason

        done = each_connection(active, one, failed=failed, time_left=self.time_left, start_within=RESERVE_SECONDS)
        reports = {cid: r for cid, r in done.results.items() if r is not None}
        return Schedule(reports, done.failed, done.left_ids)

    def one_connection(self, connection: Connection) -> Report | None:
        """One connection's scheduled reconcile, as a fanned-out unit of work (``calsync.fanout``),
        with the whole invocation's time (no share: the others run in their own invocations). None:
        the connection is not active. A failure raises (the queue retries the unit alone)."""
        if connection.status != "active":
            return None
        return self._scheduled(connection, self.budget())

    def _scheduled(self, connection: Connection, budget: Budget) -> Report:
        """One connection's scheduled reconcile within ``budget``, reported."""
        reconciler, client = self.reconciler_for(connection, budget)
        windows = scheduled_windows(self.now(), upcoming_days=self.upcoming_days, recent_days=self.recent_days)
        with client:
            report = scheduled(
                reconciler,
                self.state,
                connection_id=connection.connection_id,
                organization=connection.organization,
                windows=windows,
            )
        self.report(report)
        return report

    def on_request(self, request: ReconcileRequest) -> Requested | None:
        """One requested gap (None: no active connection to reconcile it with; not retried); a
        run that cannot finish sends its continuation."""
        connection = self.connections.get(request.connection_id)
        if connection is None or connection.status != "active":
            return None
        reconciler, client = self.reconciler_for(connection, self.budget())
        with client:
            outcome = requested(
                reconciler,
                self.state,
                request,
                organization=connection.organization,
                horizon=self.now() + timedelta(days=self.upcoming_days),
                now=self.now,
            )
        self.report(outcome.report)
        if outcome.continuation is not None:
            self.requests.send(outcome.continuation)
        return outcome
