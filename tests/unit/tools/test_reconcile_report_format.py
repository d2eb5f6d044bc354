"""``calsync report`` prints what a reconcile run did, including events it could not read and
where the next run resumes each window; reports stored before those fields still print."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from calsync.reconcile.report import RECENT, UPCOMING, Cursor, Report, WindowReport
from calsync_dev.cli.reconcile import format_report

NOW = datetime(2026, 12, 2, 6, tzinfo=UTC)


def test_the_report_names_unreadable_events_and_where_each_window_resumes() -> None:
    # Given a run that passed one unreadable event, covered recent and stopped in upcoming
    report = Report(
        "acme",
        "scheduled",
        NOW,
        [
            WindowReport(RECENT, NOW - timedelta(days=7), NOW, coverage="covered"),
            WindowReport(UPCOMING, NOW, NOW + timedelta(days=90), coverage="partial"),
        ],
    )
    report.counts["unreadable"] = 1
    report.cursor = report.windows[1].cursor = Cursor(UPCOMING, NOW + timedelta(days=3))
    report.stopped = "api calls"
    # When it is printed
    text = format_report(report.as_dict())
    # Then the operator reads both
    assert "unreadable 1" in text
    assert "partial, next run from 2026-12-05T06:00:00.000000Z" in text


def test_a_report_stored_with_one_cursor_still_says_where_the_next_run_resumes() -> None:
    old = Report("acme", "scheduled", NOW, [], cursor=Cursor(UPCOMING, NOW), stopped="time").as_dict()
    assert "next run resumes upcoming from 2026-12-02T06:00:00.000000Z" in format_report(old)


def test_a_report_stored_before_the_unreadable_count_still_prints() -> None:
    old = Report("acme", "scheduled", NOW, []).as_dict()
    del old["unreadable"]
    assert "unreadable 0" in format_report(old)
