"""A unit of work on its own: the refresher's unit under the connection's token budget, the worker's
deferral of a rate-limited unit, and a unit for a removed connection."""

from __future__ import annotations

from dataclasses import replace

import pytest

from calsync.calendly.bodies import OAuthToken
from calsync.connections.budget import TOKEN_REQUESTS_PER_MINUTE, MemoryBudgets, RateBudget, RateLimited
from calsync.connections.records import StoredToken
from calsync.connections.refresh import Outcome, Refresher
from calsync.fanout.work import Job, WorkUnit
from calsync.fanout.worker import DEFERRED, GONE, Worker
from tests.fakes.connections import FakeRegistry, FakeTokens
from tests.unit.fanout.test_dispatch import NOW, connection


class Endpoint:
    def __init__(self) -> None:
        self.refreshes = 0

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> OAuthToken:
        raise AssertionError("not used")

    def refresh(self, refresh_token: str) -> OAuthToken:
        self.refreshes += 1
        return OAuthToken.model_validate(
            {
                "token_type": "Bearer",
                "access_token": f"a{self.refreshes}",
                "refresh_token": f"r{self.refreshes}",
                "expires_in": 7200,
                "created_at": int(NOW),
                "owner": "https://api.calendly.com/users/U1",
                "organization": "https://api.calendly.com/organizations/O1",
            }
        )


def setup() -> tuple[FakeRegistry, FakeTokens, MemoryBudgets, Endpoint]:
    registry, tokens, budgets = FakeRegistry(), FakeTokens(), MemoryBudgets()
    c = replace(connection(1), token_generation="g1")
    registry.register(c, now="2026-12-05T00:00:00Z")
    tokens.put(c.connection_id, StoredToken("oauth", "a0", "r0", expires_at=int(NOW) + 600, generation="g1"))
    return registry, tokens, budgets, Endpoint()


def refresher(registry: FakeRegistry, tokens: FakeTokens, budgets: MemoryBudgets, endpoint: Endpoint) -> Refresher:
    return Refresher(
        registry,
        tokens,
        endpoint,
        "worker-1",
        clock=lambda: NOW,
        token_budget=lambda cid: RateBudget(budgets, cid, clock=lambda: NOW, sleep=lambda s: None),
    )


def test_a_refresh_unit_spends_one_token_request_of_the_connections_budget() -> None:
    registry, tokens, budgets, endpoint = setup()
    (c,) = registry.all()
    assert refresher(registry, tokens, budgets, endpoint).one(c) == Outcome.REFRESHED
    assert len(budgets.get(c.connection_id).token_calls) == 1
    assert endpoint.refreshes == 1


def test_a_refresh_over_the_token_budget_sends_nothing_and_frees_the_lease() -> None:
    # Given a connection whose 8 token requests of this minute are spent (by other callers)
    registry, tokens, budgets, endpoint = setup()
    (c,) = registry.all()
    spender = RateBudget(budgets, c.connection_id, clock=lambda: NOW, sleep=lambda s: None)
    for _ in range(TOKEN_REQUESTS_PER_MINUTE):
        spender.before_token_call()
    # When its refresh unit runs
    with pytest.raises(RateLimited):
        refresher(registry, tokens, budgets, endpoint).one(c)
    # Then no token request went out, the refresh token is unspent, and the lease is free again
    assert endpoint.refreshes == 0
    assert tokens.get(c.connection_id).refresh_token == "r0"
    assert registry.acquire_lease(c.connection_id, owner="someone", now=int(NOW), seconds=30)


def test_the_worker_puts_a_rate_limited_unit_off_and_gives_up_after_its_deferrals() -> None:
    registry, *_ = setup()
    sent: list[tuple[WorkUnit, int]] = []

    def limited(_: object) -> str:
        raise RateLimited("c000001", 42.3, "api")

    worker = Worker(
        registry.get, {Job.WATCHDOG: limited}, lambda unit, delay: sent.append((unit, delay)), max_deferrals=2
    )
    unit = WorkUnit(job=Job.WATCHDOG, connection_id="c000001", run="r", dispatched_at=NOW)
    assert worker.handle(unit) == DEFERRED
    assert sent[-1][1] == 43
    assert worker.handle(sent[-1][0]) == DEFERRED
    with pytest.raises(RateLimited):  # the third time: the queue's own retries take over
        worker.handle(sent[-1][0])
    assert [u.deferrals for u, _ in sent] == [1, 2]


def test_a_unit_for_a_removed_or_unknown_connection_is_done() -> None:
    registry, *_ = setup()
    worker = Worker(registry.get, {}, lambda unit, delay: None)
    assert worker.handle(WorkUnit(job=Job.RECONCILE, connection_id="nobody", run="r", dispatched_at=NOW)) == GONE
