"""The scheduled jobs' one loop over connections (``connections.each``): one broken connection
never stops the others, a run short of time leaves the rest for the next run and says so, and
the refresher, the watchdog and the reconciler all keep to it. No AWS, no clock: time is injected."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from calsync.connections.each import Failure, each_connection, failure_of
from calsync.connections.records import Connection, TokenNotFound
from calsync.connections.refresh import START_WITHIN_SECONDS as REFRESH_START_WITHIN
from calsync.connections.refresh import Outcome, Refresher
from calsync.connections.watchdog import START_WITHIN_SECONDS as CHECK_START_WITHIN
from calsync.connections.watchdog import Health, Watchdog
from calsync.errors import DependencyUnavailable
from calsync.reconcile.budget import Budget
from calsync.reconcile.report import Report
from calsync.reconcile.requests import ReconcileRequest
from calsync.reconcile.scheduled import RESERVE_SECONDS, Jobs, ReconcileFailed

SECRET = "sk-live-do-not-log"  # a stand-in for what an exception message might hold


def connection(n: int, *, kind: str = "pat", status: str = "active") -> Connection:
    return Connection(
        connection_id=f"conn-{n:02d}",
        kind=kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        organization=f"https://api.calendly.com/organizations/ORG{n}",
        owner=None,
        callback_url=f"https://hooks.example.com/webhooks/calendly/conn-{n:02d}",
        token_secret="t",
        signing_key_secret="k",
    )


TEN = [connection(n) for n in range(10)]


class Countdown:
    """A run's time left that shrinks by ``per_step`` seconds each time it is read."""

    def __init__(self, start: float, per_step: float) -> None:
        self.left, self.per_step = start, per_step

    def __call__(self) -> float:
        left, self.left = self.left, self.left - self.per_step
        return left


# ------------------------------------------------------------------ the helper


def test_one_connection_raising_does_not_stop_the_other_nine_and_its_failure_is_reported_safely() -> None:
    # Given ten connections, the fourth of which raises with a secret in its message
    def step(c: Connection) -> str:
        if c.connection_id == "conn-03":
            raise RuntimeError(f"token {SECRET} refused")
        return "done"

    reported: list[tuple[str, Failure]] = []

    def failed(c: Connection, failure: Failure) -> str:
        reported.append((c.connection_id, failure))
        return "failed"

    # When the loop runs
    done = each_connection(TEN, step, failed=failed)
    # Then the other nine were done, in order, and the broken one is reported without its message
    assert list(done.results) == [c.connection_id for c in TEN]
    assert [cid for cid, r in done.results.items() if r == "done"] == [f"conn-{n:02d}" for n in range(10) if n != 3]
    assert done.results["conn-03"] == "failed"
    assert reported == [("conn-03", Failure("unexpected_error", "RuntimeError"))]
    assert done.failed == {"conn-03": Failure("unexpected_error", "RuntimeError")}
    assert SECRET not in str(done.failed)
    assert done.left == []


def test_with_the_time_nearly_spent_the_remaining_connections_are_left_for_the_next_run() -> None:
    # Given ten connections, a step that needs 30 s, and a run with 100 s left that each step spends
    time_left = Countdown(100, per_step=25)
    started: list[str] = []
    # When the loop runs
    done = each_connection(
        TEN, lambda c: started.append(c.connection_id), failed=lambda c, f: None, time_left=time_left, start_within=30
    )
    # Then three were started (100, 75, 50 s left), and the seven others are left, and said so
    assert started == ["conn-00", "conn-01", "conn-02"]
    assert done.left_ids == [f"conn-{n:02d}" for n in range(3, 10)]
    assert done.stopped_with == 25
    assert done.failed == {}


def test_a_run_with_time_enough_starts_every_connection() -> None:
    done = each_connection(TEN, lambda c: 1, failed=lambda c, f: 0, time_left=lambda: 31.0, start_within=30)
    assert len(done.results) == 10
    assert done.left == []
    assert done.stopped_with is None


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (TokenNotFound(SECRET), "token_missing"),
        (DependencyUnavailable("secretsmanager:GetSecretValue"), "aws_unavailable"),
        (KeyError(SECRET), "unexpected_error"),
    ],
)
def test_a_failure_is_named_by_a_stable_reason(exc: Exception, reason: str) -> None:
    failure = failure_of(exc)
    assert failure.reason == reason
    assert SECRET not in failure.detail


# ------------------------------------------------------------------ its users


@dataclass
class Registry:
    """Only what a loop over connections that does nothing to them reads."""

    connections: list[Connection]
    errors: list[tuple[str, str]] = field(default_factory=list)

    def all(self) -> Iterator[Connection]:
        return iter(self.connections)

    def get(self, connection_id: str) -> Connection | None:
        return next((c for c in self.connections if c.connection_id == connection_id), None)

    def record_error(self, connection_id: str, **fields: Any) -> bool:
        self.errors.append((connection_id, fields["reason"]))
        return True


def test_the_refresher_defers_the_connections_it_has_no_time_to_start_and_reports_them() -> None:
    # Given four PAT connections (nothing to refresh) and a run whose time runs short after two
    reports: list[tuple[str, str, str]] = []
    time_left = Countdown(REFRESH_START_WITHIN + 1, per_step=1)
    refresher = Refresher(
        Registry([connection(n) for n in range(4)]),  # type: ignore[arg-type]
        tokens=None,  # type: ignore[arg-type]
        oauth=None,  # type: ignore[arg-type]
        owner="run",
        time_left=time_left,
        report=lambda outcome, c, detail: reports.append((str(outcome), c.connection_id, detail)),
    )
    # When it runs
    results = refresher.run()
    # Then the two started were looked at, the two others deferred to the next run, each reported
    assert results == {
        "conn-00": Outcome.SKIPPED,
        "conn-01": Outcome.SKIPPED,
        "conn-02": Outcome.DEFERRED,
        "conn-03": Outcome.DEFERRED,
    }
    assert [(o, cid) for o, cid, _ in reports][2:] == [("deferred", "conn-02"), ("deferred", "conn-03")]
    assert reports[2][2].startswith("not started")


def test_the_watchdog_records_a_failing_check_and_goes_on_and_defers_what_it_has_no_time_for() -> None:
    # Given three active connections, the first of which cannot be checked, and time for two
    def calendly_for(c: Connection) -> Any:
        raise DependencyUnavailable("secretsmanager:GetSecretValue")

    registry = Registry([connection(0), connection(1, status="reauth_required"), connection(2)])
    watchdog = Watchdog(
        registry,  # type: ignore[arg-type]
        calendly_for=calendly_for,
        signing_key_for=lambda c: None,
        reconcile=None,  # type: ignore[arg-type]
        time_left=Countdown(CHECK_START_WITHIN + 1, per_step=1),
    )
    # When it runs
    results = watchdog.run()
    # Then the failure is recorded on its connection, the next one checked, the last one deferred
    assert results == {"conn-00": Health.ERROR, "conn-01": Health.SKIPPED, "conn-02": Health.DEFERRED}
    assert registry.errors == [("conn-00", "aws_unavailable")]


@dataclass
class State:
    reports: list[dict[str, Any]] = field(default_factory=list)

    def cursor(self, connection_id: str) -> None:
        return None

    def save_cursor(self, connection_id: str, cursor: Any) -> None:
        return None

    def put_report(self, report: dict[str, Any]) -> None:
        self.reports.append(report)


NOW = datetime(2026, 12, 2, tzinfo=UTC)


@dataclass
class Reconcilers:
    """Each connection's reconciler: the budget it was given, and a run that ends at once."""

    broken: str | None = None
    budgets: dict[str, Budget] = field(default_factory=dict)

    def __call__(self, c: Connection, budget: Budget) -> tuple[Any, Any]:
        if c.connection_id == self.broken:
            raise TokenNotFound(c.connection_id)
        self.budgets[c.connection_id] = budget
        return self, nullcontext()

    def run(self, *, connection_id: str, reason: str, **_: Any) -> Report:
        return Report(connection_id, reason, NOW, windows=[])

    def event_types(self, report: Report, *, organization: str) -> None:
        """The event types' listing after the bookings (``reconcile.event_types``): nothing here."""


def jobs(registry: Registry, reconcilers: Reconcilers, time_left: Any, **fields: Any) -> Jobs:
    return Jobs(
        registry,
        reconcilers,
        State(),
        requests=fields.pop("requests", None),  # type: ignore[arg-type]
        api_calls=100,
        upcoming_days=30,
        recent_days=3,
        time_left=time_left,
        now=lambda: NOW,
        clock=lambda: 0.0,
        **fields,
    )


def test_the_scheduled_reconcile_shares_the_time_left_and_fails_loudly_after_the_others() -> None:
    # Given three active connections (and one that is not), the second without a token, 300 s left
    registry = Registry([connection(0), connection(1), connection(2, status="reauth_required"), connection(3)])
    reconcilers = Reconcilers(broken="conn-01")
    run = jobs(registry, reconcilers, lambda: 300.0)
    # When the schedule fires
    schedule = run.every_connection()
    # Then the first got a third of the time left for Calendly (the reserve kept), the last all of it
    assert reconcilers.budgets["conn-00"].deadline == pytest.approx((300 - 30) / 3)
    assert reconcilers.budgets["conn-03"].deadline == pytest.approx(300 - 30)
    # And the broken one is reported, and fails the run once the others are done
    assert {cid: str(f) for cid, f in schedule.failed.items()} == {
        "conn-01": "token_missing: the connection has no token secret"
    }
    assert schedule.summary() == {
        "conn-00": {"complete": True, "repaired": 0},
        "conn-03": {"complete": True, "repaired": 0},
    }
    with pytest.raises(ReconcileFailed, match="conn-01"):
        schedule.raise_for_failures()


def test_the_scheduled_reconcile_leaves_what_it_has_no_time_for_to_the_next_run() -> None:
    # Given three active connections and a run with time for one (each start reads the clock twice)
    run = jobs(Registry([connection(n) for n in range(3)]), Reconcilers(), Countdown(RESERVE_SECONDS + 1, per_step=1))
    # When the schedule fires
    schedule = run.every_connection()
    # Then one was reconciled; the two others are left, said so, and not failures
    assert list(schedule.reports) == ["conn-00"]
    assert schedule.left == ["conn-01", "conn-02"]
    assert schedule.summary()["conn-02"] == {"complete": False, "repaired": 0, "left": True}
    schedule.raise_for_failures()


def test_a_requested_reconcile_for_no_active_connection_is_dropped() -> None:
    run = jobs(Registry([connection(0, status="reauth_required")]), Reconcilers(), lambda: 300.0)
    request = ReconcileRequest(connection_id="conn-00", since=NOW, reason="r", requested_at=NOW)
    assert run.on_request(request) is None
