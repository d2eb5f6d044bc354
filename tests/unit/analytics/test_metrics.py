"""The metrics' SQL, run by DuckDB on a small lake whose answers are known, and parsed as Athena SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlglot

from calsync.analytics.metrics import NAMES, MetricWindow, sql
from calsync.analytics.record import LakeRecord
from calsync_dev.analytics.lake import connect, run, write_records

AS_OF = datetime(2026, 12, 10, tzinfo=UTC)
H1, H2 = "https://api.calendly.com/users/H1", "https://api.calendly.com/users/H2"
_seq = iter(range(10_000))


def at(day: int, hour: int = 10, month: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def record(invitee: str, kind: str, version: str, occurred: datetime, **fields: Any) -> LakeRecord:
    start = fields.pop("start")
    return LakeRecord(
        kind=kind,
        event_id=f"e{next(_seq)}",
        occurred_at=occurred,
        connection_id=fields.pop("connection_id", "acme"),
        event_uuid=f"EV-{invitee}",
        invitee_uuid=invitee,
        status=fields.pop("status", "active"),
        start_time=start,
        end_time=start + timedelta(minutes=30),
        version=version,
        no_show=fields.pop("no_show", False),
        rescheduled=fields.pop("rescheduled", False),
        **fields,
    )


def scheduled(
    invitee: str, event_type: str, host: str, created: datetime, start: datetime, **fields: Any
) -> LakeRecord:
    return record(
        invitee,
        fields.pop("kind", "Booking Scheduled"),
        f"{created.isoformat()}#0",
        created,
        event_type=event_type,
        host_user=host,
        created_at=created,
        start=start,
        **fields,
    )


def changed(first: LakeRecord, kind: str, version: str, occurred: datetime, **changes: Any) -> LakeRecord:
    data = first.model_dump() | {"kind": kind, "version": version, "occurred_at": occurred, "created_at": None}
    return LakeRecord(**(data | {"event_id": f"e{next(_seq)}"} | changes))


def known_lake() -> list[LakeRecord]:
    """Seven bookings of connection acme (one rescheduled into another), one of another
    connection, and three routing-form submissions."""
    b1 = scheduled(
        "B1", "Demo", H1, at(20, 9, 11), at(1), utm_source="newsletter", utm_campaign="winter", submission_uuid="S1"
    )
    b2 = scheduled("B2", "Demo", H1, at(28, 10, 11), at(2), utm_source="newsletter", utm_campaign="winter")
    b3 = scheduled("B3", "Demo", H2, at(29, 10, 11), at(3), utm_source="ads")
    b4 = scheduled("B4", "Demo", H2, at(25, 10, 11), at(4))
    b5 = scheduled("B5", "Demo", H2, at(30, 10, 11), at(8), kind="Booking Rescheduled", rescheduled_from="B4")
    b6 = scheduled("B6", "Intro", H1, at(1), at(15))
    b7 = scheduled("B7", "Intro", H1, at(5), at(7))
    b8 = scheduled("B8", "Intro", H1, at(1), at(2), connection_id="other", no_show=True)
    return [
        b1,
        changed(b1, "Invitee No-Show Marked", b1.version or "", at(1, 11), no_show=True, no_show_version="n1"),
        b2,
        changed(b2, "Invitee No-Show Marked", b2.version or "", at(2, 11), no_show=True, no_show_version="n1"),
        changed(b2, "Invitee No-Show Cleared", b2.version or "", at(2, 12), no_show=False, no_show_version="n2"),
        # B3's cancellation arrives before its scheduling (EventBridge keeps no order): the version decides
        changed(
            b3, "Booking Canceled", "2026-11-30T00:00:00#0", at(30, 0, 11), status="canceled", canceled_by="invitee"
        ),
        b3.model_copy(update={"occurred_at": at(30, 1, 11)}),
        b4,
        changed(b4, "Booking Rescheduled", b5.version or "", at(30, 10, 11), status="canceled", rescheduled=True),
        b5,
        b6,
        changed(b6, "Booking Starting Soon", b6.version or "", at(15, 9)),
        b7,
        changed(b7, "Booking Canceled", "2026-12-06T00:00:00#0", at(6, 0), status="canceled", canceled_by="host"),
        b8,
        submission("S1", "F1", at(20, 8, 11)),
        submission("S2", "F2", at(1), invitee="B6"),
        submission("S3", "F1", at(2)),
    ]


def submission(uuid: str, form: str, created: datetime, invitee: str | None = None) -> LakeRecord:
    return LakeRecord(
        kind="Routing Form Submitted",
        event_id=f"e{next(_seq)}",
        occurred_at=created,
        connection_id="acme",
        routing_form_id=form,
        submission_uuid=uuid,
        invitee_uuid=invitee,
        created_at=created,
    )


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    directory: Path = tmp_path_factory.mktemp("lake")
    write_records(known_lake(), directory)
    return connect(directory)


def metric(lake: duckdb.DuckDBPyConnection, name: str, **window: Any) -> list[tuple[Any, ...]]:
    defaults: dict[str, Any] = {"as_of": AS_OF, "connection_id": "acme"}
    return run(lake, name, MetricWindow(**(defaults | window))).rows


def test_the_lake_is_partitioned_by_date(tmp_path: Path) -> None:
    write_records(known_lake(), tmp_path)
    assert {p.name for p in tmp_path.iterdir()} >= {"dt=2026-11-20", "dt=2026-12-01"}


def test_current_state_is_each_bookings_latest_version(lake: duckdb.DuckDBPyConnection) -> None:
    result = run(lake, "current_bookings", MetricWindow(as_of=AS_OF, connection_id="acme"))
    state = {row["invitee_uuid"]: row for row in result.as_dicts()}
    assert sorted(state) == ["B1", "B2", "B3", "B4", "B5", "B6", "B7"]
    assert (state["B1"]["no_show"], state["B2"]["no_show"]) == (True, False)  # B2's mark was cleared
    assert (state["B3"]["status"], state["B3"]["canceled_by"]) == ("canceled", "invitee")
    assert (state["B4"]["status"], state["B4"]["rescheduled"]) == ("canceled", True)
    assert state["B4"]["created_at"] == datetime(2026, 11, 25, 10)  # from its first version
    assert state["B6"]["status"] == "active"


@pytest.mark.parametrize("backfilled_first", [True, False])
def test_a_tie_of_versions_goes_to_the_record_naming_the_submission(tmp_path: Path, backfilled_first: bool) -> None:
    # Given a live record and a backfilled one of the same version, only the backfilled one naming
    # the routing-form submission the booking came from, written in either order
    live = scheduled("B1", "Demo", H1, at(20, 9, 11), at(1))
    backfilled = live.model_copy(update={"submission_uuid": "S1", "event_id": "e-backfill"})
    write_records([backfilled, live] if backfilled_first else [live, backfilled], tmp_path)
    # When the current state is asked for
    [state] = run(connect(tmp_path), "current_bookings", MetricWindow(as_of=AS_OF)).as_dicts()
    # Then it knows the submission
    assert state["submission_uuid"] == "S1"


def test_the_current_state_keeps_what_the_latest_version_left_empty(tmp_path: Path) -> None:
    # Given a booking whose latest version no longer names a host or a UTM source its first one did
    first = scheduled("B1", "Demo", H1, at(20, 9, 11), at(1), utm_source="ads")
    latest = changed(first, "Booking Canceled", "2026-11-30T00:00:00#0", at(30, 0, 11), host_user=None, utm_source=None)
    write_records([first, latest], tmp_path)
    # When the current state is asked for
    [state] = run(connect(tmp_path), "current_bookings", MetricWindow(as_of=AS_OF)).as_dicts()
    # Then its fields are the latest version's, empty ones too (not an older version's value)
    assert (state["version"], state["host_user"], state["utm_source"]) == ("2026-11-30T00:00:00#0", None, None)
    assert state["created_at"] == datetime(2026, 11, 20, 9)  # from its first version


def test_no_metric_reads_the_random_ids_no_answer_needs() -> None:
    # event_id and event_uuid: a random id on every record, a third of what a query would scan (docs/analytics.md)
    for name in NAMES:
        tree = sqlglot.parse_one(sql(name), read="athena")
        assert {column.name for column in tree.find_all(sqlglot.exp.Column)} & {"event_id", "event_uuid"} == set()


def test_bookings_per_iso_week_by_event_type(lake: duckdb.DuckDBPyConnection) -> None:
    assert metric(lake, "bookings_per_week") == [
        (date(2026, 11, 30), "Demo", 3, 1),
        (date(2026, 12, 7), "Demo", 1, 0),
        (date(2026, 12, 7), "Intro", 1, 1),
        (date(2026, 12, 14), "Intro", 1, 0),
    ]
    # a window on start times
    assert metric(lake, "bookings_per_week", since=at(1, 0), until=at(7, 0)) == [(date(2026, 11, 30), "Demo", 3, 1)]


def test_rates_by_event_type(lake: duckdb.DuckDBPyConnection) -> None:
    # Demo: B1-B5; B3 canceled, B4 rescheduled; B1, B2, B5 ended; B1 a no-show. Intro: B7 canceled, B6 not ended.
    assert metric(lake, "rates_by_event_type") == [
        ("Demo", 5, 1, 1, 3, 1, 0.2, 0.2, pytest.approx(1 / 3)),
        ("Intro", 2, 1, 0, 0, 0, 0.5, 0.0, None),
    ]


def test_no_show_rate_counts_only_bookings_ended_by_as_of(lake: duckdb.DuckDBPyConnection) -> None:
    # Given "now" before B5's end (Dec 8): only B1 and B2 have ended
    (demo, _) = metric(lake, "rates_by_event_type", as_of=at(5))
    assert demo[4:6] == (2, 1)
    assert demo[8] == 0.5


def test_rates_by_host(lake: duckdb.DuckDBPyConnection) -> None:
    assert metric(lake, "rates_by_host") == [
        (H1, 4, 1, 0, 2, 1, 0.25, 0.0, 0.5),
        (H2, 3, 1, 1, 1, 0, pytest.approx(1 / 3), pytest.approx(1 / 3), 0.0),
    ]


def test_every_connection_when_none_is_named(lake: duckdb.DuckDBPyConnection) -> None:
    rows = metric(lake, "rates_by_host", connection_id=None)
    assert rows[0][:2] == (H1, 5)  # B8, of connection "other", too


def test_lead_time_median_and_p90_by_event_type(lake: duckdb.DuckDBPyConnection) -> None:
    # Demo leads (B4 rescheduled away): 265, 96, 96, 192 hours; Intro: 336, 48
    assert metric(lake, "lead_time") == [("Demo", 4, 96.0, 265.0), ("Intro", 2, 48.0, 336.0)]


def test_bookings_by_utm_source_and_campaign(lake: duckdb.DuckDBPyConnection) -> None:
    assert metric(lake, "bookings_by_utm") == [
        (None, None, 3, 1),
        ("newsletter", "winter", 2, 0),
        ("ads", None, 1, 1),
    ]


def test_routing_form_submissions_and_the_share_that_became_bookings(lake: duckdb.DuckDBPyConnection) -> None:
    # F1: S1 (a booking names it) and S3 (none); F2: S2 (led to B6)
    assert metric(lake, "routing_forms") == [("F1", 2, 1, 0.5), ("F2", 1, 1, 1.0)]
    assert metric(lake, "routing_forms", since=at(1, 0)) == [("F1", 1, 0, 0.0), ("F2", 1, 1, 1.0)]


def test_an_empty_lake_answers_every_metric_with_no_rows(tmp_path: Path) -> None:
    empty = connect(tmp_path / "none")
    for name in NAMES:
        assert run(empty, name, MetricWindow(as_of=AS_OF)).rows == []


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dialect", ["athena", "trino"])
def test_each_metric_parses_as_athena_sql(name: str, dialect: str) -> None:
    tree = sqlglot.parse_one(sql(name), read=dialect)
    assert tree.find(sqlglot.exp.Table) is not None
    assert len(list(tree.find_all(sqlglot.exp.Placeholder))) == 4


def test_a_limited_listing_is_its_first_bookings_by_start_and_their_total(lake: duckdb.DuckDBPyConnection) -> None:
    result = run(lake, "current_bookings", MetricWindow(as_of=AS_OF, connection_id="acme"), limit=2)
    assert [row["invitee_uuid"] for row in result.as_dicts()] == ["B1", "B2"]
    assert result.total == 7


def test_writing_again_adds_files_and_keeps_what_was_there(tmp_path: Path) -> None:
    first = write_records(known_lake()[:3], tmp_path)
    second = write_records(known_lake()[:3], tmp_path)
    assert set(first).isdisjoint(second)
    assert all(path.exists() for path in first + second)
    (count,) = connect(tmp_path).execute("SELECT count(*) FROM lifecycle_events").fetchone() or (0,)
    assert count == 6
