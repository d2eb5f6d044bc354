"""The local analytics lake as a user sees it: `make run`, webhooks in, Parquet under
`.calsync/lake/` (buffered), and `calsync stats` showing the numbers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from calsync_dev import cli
from calsync_dev.cli.send import post_signed
from calsync_dev.events import DEFAULT_LOCAL_KEY
from tests.e2e.conftest import RunningStack, new_stack, wait_for
from tests.factories import grace_booking, vary

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    running = new_stack(tmp_path_factory.mktemp("lake"))
    running.extra_env["CALSYNC_LOCAL_LAKE_FLUSH_SECONDS"] = "1"
    running.start()
    yield running
    try:
        running.stop()
    finally:
        running.kill()


def lake_dir(stack: RunningStack) -> Path:
    return stack.state_file.parent / "lake"


def send(stack: RunningStack, body: bytes | str) -> None:
    raw = body if isinstance(body, bytes) else vary(body)
    status, _ = post_signed(stack.webhook_url, raw, DEFAULT_LOCAL_KEY)
    assert status == 202


def stats(stack: RunningStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)  # `calsync stats` finds the local stack's lake as a user's shell would
    capsys.readouterr()
    assert cli.main(["stats", "--json", "--as-of", "2026-12-10"]) == 0
    return json.loads(capsys.readouterr().out)["metrics"]


def test_deliveries_land_in_the_lake_and_calsync_stats_counts_them(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the lake's path is announced at start, and it is empty
    assert any(str(lake_dir(stack)) in line for line in stack.lines)
    assert stats(stack, monkeypatch, capsys)["current_bookings"]["total_rows"] == 0
    # When Ada books, Grace books the same event from a newsletter, Ada cancels, and a routing form is submitted
    grace = json.loads(grace_booking())
    grace["payload"]["tracking"] = {"utm_source": "newsletter", "utm_campaign": "winter"}
    send(stack, "invitee_created.json")
    send(stack, json.dumps(grace).encode())
    send(stack, "invitee_canceled.json")
    send(stack, "routing_form_submission_created.json")

    # Then, once the buffer is flushed, `calsync stats` counts two bookings, one canceled, one submission
    def counted() -> Any:
        metrics = stats(stack, monkeypatch, capsys)
        done = metrics["current_bookings"]["total_rows"] == 2 and metrics["routing_forms"]["rows"]
        statuses = {row["status"] for row in metrics["current_bookings"]["rows"]}
        return metrics if done and statuses == {"active", "canceled"} else None

    metrics = wait_for(counted, timeout=90, every=0.5, what="the lake's records")
    (demo,) = metrics["rates_by_event_type"]["rows"]
    assert (demo["event_type"], demo["bookings"], demo["canceled"]) == ("Product demo", 2, 1)
    assert demo["cancellation_rate"] == pytest.approx(0.5)
    utm = {(row["utm_source"], row["utm_campaign"]): row["bookings"] for row in metrics["bookings_by_utm"]["rows"]}
    assert utm == {("newsletter", "winter"): 1, (None, None): 1}
    assert [(row["submissions"]) for row in metrics["routing_forms"]["rows"]] == [1]
    # And the lake is Parquet under dt= partitions, with no personal data in it
    files = sorted(lake_dir(stack).glob("dt=*/*.parquet"))
    assert files
    values = json.dumps([pq.read_table(path).to_pylist() for path in files], default=str)
    for personal in ("grace@example.com", "Grace", "ada@example.com", "Ada Lovelace"):
        assert personal not in values


def test_a_backfill_of_the_same_bookings_changes_no_number_and_a_rerun_no_file(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the bookings above, in the lake from their live events
    before = stats(stack, monkeypatch, capsys)
    assert before["current_bookings"]["total_rows"] == 2
    # When the operator backfills the local lake from the local stack's table, twice
    assert cli.main(["lake", "backfill", "--quiet"]) == 0
    assert "records" in capsys.readouterr().out
    backfilled = sorted(lake_dir(stack).glob("dt=*/backfill-*.parquet"))
    assert backfilled
    assert cli.main(["lake", "backfill", "--quiet"]) == 0
    # Then the second run replaced the first one's files, and no count changed
    assert sorted(lake_dir(stack).glob("dt=*/backfill-*.parquet")) == backfilled
    after = stats(stack, monkeypatch, capsys)
    for name in ("rates_by_event_type", "bookings_per_week", "bookings_by_utm", "routing_forms"):
        assert after[name] == before[name], name
    assert after["current_bookings"]["total_rows"] == 2
