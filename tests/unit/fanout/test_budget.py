"""One Calendly rate budget per connection, learned from Calendly's answers."""

from __future__ import annotations

import pytest

from calsync.connections.budget import (
    FREE_PLAN_LIMIT,
    TOKEN_REQUESTS_PER_MINUTE,
    Allowance,
    MemoryBudgets,
    RateBudget,
    RateHeaders,
    RateLimited,
)

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def budget(store: MemoryBudgets, clock: Clock, cid: str = "c1", max_wait: float = 0.0) -> RateBudget:
    return RateBudget(store, cid, clock=clock, sleep=clock.sleep, max_wait=max_wait)


class FakeCalendly:
    """Calendly's per-user window: ``limit`` calls per 60 s from the window's first call."""

    def __init__(self, clock: Clock, limit: int) -> None:
        self.clock, self.limit = clock, limit
        self.window_start = -1e18
        self.used = 0
        self.throttled = 0

    def call(self) -> RateHeaders:
        now = self.clock()
        if now - self.window_start >= 60:
            self.window_start, self.used = now, 0
        reset = self.window_start + 60 - now
        if self.used >= self.limit:
            self.throttled += 1
            return RateHeaders(429, self.limit, 0, reset)
        self.used += 1
        return RateHeaders(200, self.limit, self.limit - self.used, reset)


def test_headers_are_read_case_insensitively_and_junk_is_ignored() -> None:
    answer = RateHeaders.from_headers(
        429, {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "37", "Retry-After": "nan"}
    )
    assert answer == RateHeaders(429, 500, 0, 37.0, None)


def test_an_unknown_connection_is_treated_as_free_plan_until_calendly_says_otherwise() -> None:
    store, clock = MemoryBudgets(), Clock()
    assert store.get("new").limit == FREE_PLAN_LIMIT
    b = budget(store, clock)
    b.before_call()
    b.after_answer(RateHeaders(200, 500, 499, 59))
    learned = store.get("c1")
    assert (learned.limit, learned.remaining, learned.learned) == (500, 499, True)


def test_a_429_blocks_every_caller_of_that_connection_until_its_reset() -> None:
    store, clock = MemoryBudgets(), Clock()
    refresher, watchdog = budget(store, clock), budget(store, clock)
    refresher.before_call()
    # When Calendly answers the refresher 429 with a 30-second reset
    refresher.after_answer(RateHeaders(429, 50, 0, 30))
    # Then the watchdog, a different caller, is told to wait instead of calling
    with pytest.raises(RateLimited) as stopped:
        watchdog.before_call()
    assert stopped.value.wait == pytest.approx(30)
    # And after the reset it may call again
    clock.now += 30
    watchdog.before_call()


def test_retry_after_is_honoured_when_calendly_sends_it() -> None:
    store, clock = MemoryBudgets(), Clock()
    b = budget(store, clock)
    b.after_answer(RateHeaders(429, None, None, None, retry_after=12))
    with pytest.raises(RateLimited) as stopped:
        b.before_call()
    assert stopped.value.wait == pytest.approx(12)


@pytest.mark.parametrize("limit", [50, 500])
def test_callers_sharing_a_budget_never_push_a_connection_into_429(limit: int) -> None:
    # Given a connection on a plan with ``limit`` calls a minute, three jobs calling as fast as they can
    store, clock = MemoryBudgets(), Clock()
    calendly = FakeCalendly(clock, limit)
    callers = [budget(store, clock, max_wait=120) for _ in range(3)]
    per_minute: dict[int, int] = {}
    # When they make 20 minutes' worth of calls
    for i in range(limit * 20):
        b = callers[i % 3]
        b.before_call()  # sleeps (advances the clock) when the window is spent
        answer = calendly.call()
        b.after_answer(answer)
        minute = int((clock.now - T0) // 60)
        per_minute[minute] = per_minute.get(minute, 0) + 1
        clock.now += 0.01
    # Then Calendly never answered 429 and no minute went over the limit
    assert calendly.throttled == 0
    assert max(per_minute.values()) <= limit


def test_at_most_eight_token_requests_a_minute() -> None:
    store, clock = MemoryBudgets(), Clock()
    b = budget(store, clock)
    for _ in range(TOKEN_REQUESTS_PER_MINUTE):
        b.before_token_call()
        clock.now += 1
    with pytest.raises(RateLimited) as stopped:
        b.before_token_call()
    assert stopped.value.what == "token"
    assert stopped.value.wait == pytest.approx(60 - TOKEN_REQUESTS_PER_MINUTE)


def test_a_conflicting_write_is_retried_on_a_fresh_read() -> None:
    store, clock = MemoryBudgets(), Clock()
    original_put = store.put
    conflicts = {"left": 1}

    def put(cid: str, allowance: Allowance, *, expected: int) -> bool:
        if conflicts["left"]:
            conflicts["left"] -= 1
            original_put(cid, Allowance(remaining=10, window_ends=T0 + 30, version=1), expected=0)  # someone else wrote
        return original_put(cid, allowance, expected=expected)

    store.put = put  # type: ignore[method-assign,assignment]
    budget(store, clock).before_call()
    assert store.get("c1").remaining == 9
    assert store.get("c1").version == 2


def test_the_allowance_round_trips_through_its_stored_form() -> None:
    allowance = Allowance(
        limit=500,
        remaining=3,
        window_ends=T0 + 5,
        blocked_until=T0,
        learned=True,
        token_calls=(T0,),
        throttled=2,
        version=7,
    )
    assert Allowance.from_dict(allowance.as_dict()) == allowance


def test_a_429_that_says_reset_in_zero_seconds_blocks_nothing() -> None:
    store, clock = MemoryBudgets(), Clock()
    b = budget(store, clock)
    b.after_answer(RateHeaders(429, 500, 0, 0.0))
    b.before_call()  # no RateLimited: Calendly said the window is over


def test_an_answer_that_says_what_calsync_counted_costs_no_write() -> None:
    # Given a call spent from a learned window (499 of 500 left, 59 s to go)
    store, clock = MemoryBudgets(), Clock()
    b = budget(store, clock)
    b.before_call()
    b.after_answer(RateHeaders(200, 500, 499, 60))
    b.before_call()
    writes = store.writes
    # When Calendly's answer says exactly that (498 left, the same reset)
    b.after_answer(RateHeaders(200, 500, 498, 60))
    # Then nothing is written
    assert store.writes == writes
    assert store.get("c1").remaining == 498
