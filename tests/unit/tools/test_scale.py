"""`make scale` in small: the simulation of the scheduled jobs' fan-out keeps its published JSON keys
and its invariants (every live token refreshed before it expires, no Free connection over its
limit). Simulated clock only: nothing here depends on timing."""

from __future__ import annotations

import json

import pytest

from calsync.fanout.work import Job
from calsync_dev.scale import sim
from calsync_dev.scale.__main__ import main
from calsync_dev.scale.fakes import Burst
from calsync_dev.scale.sim import Config, Simulation

KEYS = {
    "connections",
    "refreshed_before_expiry",
    "checked_hourly",
    "reconciled_6h",
    "max_calls_per_minute",
    "throttled_429",
    "max_concurrency",
    "run_seconds",
    "per_connection_month",
}


def small(**changes: object) -> dict[str, object]:
    return Simulation(Config(connections=50, seconds=6 * 3600, **changes)).run()  # type: ignore[arg-type]


def test_the_last_line_is_json_with_the_published_keys(capsys) -> None:  # type: ignore[no-untyped-def]
    # When make scale runs for 50 connections over 6 simulated hours
    assert main(["--connections", "50", "--hours", "6"]) == 0
    # Then its last line is one JSON object with every published key
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert set(result) >= KEYS
    assert result["connections"] == 50
    assert set(result["run_seconds"]) == {"refresh", "watchdog", "reconcile"}
    assert set(result["per_connection_month"]) >= {"lambda_gb_s", "secretsmanager_requests", "dynamodb_requests"}
    assert {"max_free", "limit_free", "max_paid", "limit_paid", "over_limit"} <= set(result["max_calls_per_minute"])


def test_every_live_connection_is_refreshed_checked_and_reconciled_in_time() -> None:
    result = small()
    assert result["refreshed_before_expiry"] == 1.0
    assert result["checked_hourly"] == 1.0
    assert result["reconciled_6h"] == 1.0
    assert isinstance(result["max_concurrency"], int)
    assert result["max_concurrency"] <= 3 * 2  # FanOutMaximumConcurrency per queue, three queues


def test_no_free_connection_goes_over_its_limit_even_in_429_and_5xx_bursts() -> None:
    # Given every connection on the Free plan, and bursts of 429 and 503 over the whole window
    bursts = (Burst(0, 3600, 429, 0.3), Burst(3600, 7200, 503, 0.3))
    result = small(free=1.0, bursts=bursts)
    calls = result["max_calls_per_minute"]
    assert isinstance(calls, dict)
    # Then none sent more than its 50 a minute; the 429s are the bursts', answered and honoured
    assert calls["over_limit"] == 0
    assert calls["max_free"] <= calls["limit_free"]
    assert isinstance(result["throttled_429"], int)
    assert result["throttled_429"] > 0
    assert result["refreshed_before_expiry"] == 1.0


def test_a_revoked_token_is_not_counted_live_and_the_rest_still_refresh() -> None:
    result = small(revoked=0.2)
    assert result["refreshed_before_expiry"] == 1.0
    assert result["connections"] == 50


def test_the_same_seed_gives_the_same_figures() -> None:
    assert small(seed=3) == small(seed=3)


def test_a_long_reconcile_on_free_connections_is_paced_by_their_budget_not_by_429s() -> None:
    # Given Free connections whose reconcile reads 120 pages of Calendly (over 2 minutes' worth)
    result = small(free=1.0, reconcile_pages=120, bursts=())
    calls = result["max_calls_per_minute"]
    assert isinstance(calls, dict)
    # Then each window saw at most the limit (the budget keeps a margin), none was answered 429,
    # and every reconcile still finished within its 6 hours
    assert 40 <= calls["max_free"] <= calls["limit_free"]
    assert calls["over_limit"] == 0
    assert result["throttled_429"] == 0
    assert result["reconciled_6h"] == 1.0


def test_the_figures_say_so_when_jobs_run_too_rarely(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given refresh every 3 h, the watchdog every 2 h and the reconcile every 12 h
    monkeypatch.setitem(sim.PERIOD, Job.REFRESH, 3 * 3600.0)
    monkeypatch.setitem(sim.PERIOD, Job.WATCHDOG, 2 * 3600.0)
    monkeypatch.setitem(sim.PERIOD, Job.RECONCILE, 12 * 3600.0)
    result = Simulation(Config(connections=50, seconds=12 * 3600)).run()
    # Then tokens expired, hours went unchecked and 6-hour periods unreconciled
    assert result["refreshed_before_expiry"] == 0.0
    assert result["checked_hourly"] == 0.0
    assert result["reconciled_6h"] == 0.0
