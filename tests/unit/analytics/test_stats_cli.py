"""``calsync stats``: the metrics over a local lake as tables, JSON and PNG charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from calsync_dev import cli
from calsync_dev.analytics.lake import write_records
from tests.unit.analytics.test_metrics import known_lake


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    write_records(known_lake(), tmp_path / "lake")
    return tmp_path / "lake"


def stats(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli.main(["stats", *args]) == 0
    return capsys.readouterr().out


def test_json_has_every_metric_for_the_window(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = json.loads(stats(capsys, "--lake", str(lake), "--as-of", "2026-12-10", "--connection-id", "acme", "--json"))
    assert set(out["metrics"]) == {
        "current_bookings",
        "bookings_per_week",
        "rates_by_event_type",
        "rates_by_host",
        "lead_time",
        "bookings_by_utm",
        "routing_forms",
    }
    assert out["metrics"]["routing_forms"]["rows"] == [
        {"routing_form_id": "F1", "submissions": 2, "booked": 1, "booked_share": 0.5},
        {"routing_form_id": "F2", "submissions": 1, "booked": 1, "booked_share": 1.0},
    ]
    assert out["metrics"]["current_bookings"]["total_rows"] == 7
    assert len(out["metrics"]["current_bookings"]["rows"]) == 7
    assert out["window"]["connection_id"] == "acme"


def test_since_and_until_bound_the_start_times(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--since", "2026-12-01", "--until", "2026-12-07", "--connection-id", "acme", "--json")
    out = json.loads(
        stats(capsys, "--lake", str(lake), "--as-of", "2026-12-10", "--metric", "bookings_per_week", *args)
    )
    assert out["metrics"]["bookings_per_week"]["rows"] == [
        {"week": "2026-11-30", "event_type": "Demo", "bookings": 3, "canceled": 1}
    ]


def test_tables_name_each_metric(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = stats(capsys, "--lake", str(lake), "--as-of", "2026-12-10")
    assert "Bookings per ISO week by event type" in out
    assert "Routing-form submissions" in out


def test_no_lake_yet_prints_empty_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = json.loads(stats(capsys, "--lake", str(tmp_path / "missing"), "--json"))
    assert all(metric["rows"] == [] for metric in out["metrics"].values())


def test_plot_writes_the_two_charts(lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stats(capsys, "--lake", str(lake), "--as-of", "2026-12-10", "--plot", str(tmp_path / "charts"))
    for name in ("bookings_per_week.png", "rates_by_event_type.png"):
        assert (tmp_path / "charts" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_limit_shows_the_first_bookings_by_start(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ("--metric", "current_bookings", "--limit", "3", "--connection-id", "acme", "--json")
    listing = json.loads(stats(capsys, "--lake", str(lake), *args))["metrics"]["current_bookings"]
    assert [row["invitee_uuid"] for row in listing["rows"]] == ["B1", "B2", "B3"]
    assert listing["total_rows"] == 7


def test_without_rich_the_tables_are_plain_columns(lake: Path) -> None:
    from calsync.analytics.metrics import MetricWindow
    from calsync_dev.analytics.lake import connect, run
    from calsync_dev.cli.stats import plain_table
    from tests.unit.analytics.test_metrics import AS_OF

    result = run(connect(lake), "routing_forms", MetricWindow(as_of=AS_OF))
    assert plain_table(result).splitlines()[:4] == [
        "Routing-form submissions and the share that became bookings",
        "routing_form_id  submissions  booked  booked_share",
        "F1               2            1       0.500       ",
        "F2               1            1       1.000       ",
    ]
