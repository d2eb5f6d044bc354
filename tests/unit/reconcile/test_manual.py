"""An operator's reconcile (``calsync.reconcile.manual``; ``calsync reconcile`` and its alias
``calsync backfill``): the scheduled windows resumed, or a range of their choice, and the
report stored either way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.reconcile.manual import MANUAL, Range, range_windows, reconcile
from calsync.reconcile.report import RECENT, SUBMISSIONS, UPCOMING, Cursor, Report, Window, WindowReport
from calsync_dev.cli import build_parser
from calsync_dev.cli.reconcile import span

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Runs:
    """A reconciler that records each run's windows and cursors and covers them."""

    def __init__(self) -> None:
        self.runs: list[dict[str, Any]] = []
        self.event_type_passes: list[str] = []  # connections whose event types were reconciled

    def run(
        self, *, connection_id: str, organization: str, windows: Iterable[Window], reason: str, cursors: Any = ()
    ) -> Report:
        windows = list(windows)
        self.runs.append({"windows": windows, "reason": reason, "cursors": list(cursors)})
        return Report(connection_id, reason, NOW, [WindowReport(w.name, w.start, w.end, "covered") for w in windows])

    def event_types(self, report: Report, *, organization: str) -> None:
        self.event_type_passes.append(report.connection_id)


class State:
    def __init__(self, cursor: Mapping[str, Any] | None = None) -> None:
        self.stored_cursor, self.reports = cursor, list[Mapping[str, Any]]()

    def cursor(self, connection_id: str) -> Mapping[str, Any] | None:
        return self.stored_cursor

    def save_cursor(self, connection_id: str, cursor: Mapping[str, Any] | None) -> None:
        self.stored_cursor = cursor

    def put_report(self, report: Mapping[str, Any]) -> None:
        self.reports.append(report)


def run(span: Range | None, state: State | None = None) -> tuple[Runs, State]:
    runs, state = Runs(), state or State()
    reconcile(
        runs,  # type: ignore[arg-type]
        state,
        connection_id="acme",
        organization="org",
        now=NOW,
        upcoming_days=90,
        recent_days=7,
        span=span,
    )
    return runs, state


def test_without_a_range_it_covers_the_scheduled_windows_from_the_cursors() -> None:
    # Given a connection whose last run stopped in the upcoming window
    stopped = Cursor(UPCOMING, NOW + timedelta(days=3))
    runs, state = run(None, State({"cursors": [stopped.as_dict()]}))
    # Then this run covers recent, submissions and upcoming, resuming there, and says it was manual
    (only,) = runs.runs
    assert [w.name for w in only["windows"]] == [RECENT, SUBMISSIONS, UPCOMING]
    assert only["cursors"] == [stopped]
    assert only["reason"] == MANUAL
    assert [r["reason"] for r in state.reports] == [MANUAL]


def test_over_a_range_it_covers_the_submissions_made_in_it_then_the_bookings_starting_in_it() -> None:
    since, until = NOW - timedelta(days=30), NOW + timedelta(days=30)
    runs, state = run(Range(since, until))
    (only,) = runs.runs
    assert only["windows"] == [Window(SUBMISSIONS, since, NOW), Window(MANUAL, since, until)]
    assert only["cursors"] == []  # a range starts from its start, whatever the schedule left
    assert len(state.reports) == 1
    assert state.stored_cursor is None  # and leaves the scheduled runs' cursors alone


def test_a_range_open_at_either_end_runs_from_now_or_to_the_upcoming_horizon() -> None:
    assert run(Range(until=NOW + timedelta(days=2)))[0].runs[0]["windows"] == [
        Window(MANUAL, NOW, NOW + timedelta(days=2))
    ]
    since = NOW - timedelta(days=1)
    assert run(Range(since=since))[0].runs[0]["windows"] == [
        Window(SUBMISSIONS, since, NOW),
        Window(MANUAL, since, NOW + timedelta(days=90)),
    ]


def test_a_future_range_has_no_submissions_window() -> None:
    since = NOW + timedelta(days=1)
    assert range_windows(since, since + timedelta(days=1), NOW) == [Window(MANUAL, since, since + timedelta(days=1))]


@pytest.mark.parametrize(
    "window",
    [
        ["--since", "2026-11-01", "--until", "2026-12-31"],
        ["--since", "2026-11-01"],
    ],
)
def test_the_backfill_alias_is_reconcile_over_the_same_range(window: list[str]) -> None:
    # Given the same arguments to `calsync backfill` and `calsync reconcile`
    parser = build_parser()
    backfill = parser.parse_args(["backfill", "--connection-id", "acme", *window])
    reconcile_ = parser.parse_args(["reconcile", "--connection-id", "acme", *window])
    # Then both run the same command on the same range
    assert backfill.func is reconcile_.func
    assert span(backfill, NOW, 7) == span(reconcile_, NOW, 7)
    assert {k: v for k, v in vars(backfill).items() if k != "command"} == {
        k: v for k, v in vars(reconcile_).items() if k != "command"
    }


def test_backfill_without_since_is_a_range_from_the_recent_days_not_the_scheduled_windows() -> None:
    parser = build_parser()
    # (its default before it became an alias: 7 days ago to 90 days ahead)
    assert span(parser.parse_args(["backfill", "--connection-id", "acme"]), NOW, 7) == Range(NOW - timedelta(days=7))
    assert span(parser.parse_args(["reconcile", "--connection-id", "acme"]), NOW, 7) is None
    until = ["--until", "2026-12-31"]
    assert span(parser.parse_args(["backfill", "--connection-id", "acme", *until]), NOW, 7) == Range(
        NOW - timedelta(days=7), datetime(2026, 12, 31, tzinfo=UTC)
    )
