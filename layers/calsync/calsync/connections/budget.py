"""One Calendly rate budget per connection, shared by every caller (refresh, watchdog, reconcile,
later actions), learned from what Calendly answers.

Calendly limits API requests per user per minute (500 on paid plans, 50 on Free) and says where a
user stands on every answer: ``X-RateLimit-Limit`` (the ceiling), ``X-RateLimit-Remaining`` (left in
the current window) and ``X-RateLimit-Reset`` (seconds until the window resets); a 429 carries the
same headers (``Retry-After`` is honoured too when present). Token requests have their own limit:
8 per user per minute.

The state (``Allowance``) lives in one record per connection (``BudgetStore``: a DynamoDB item,
written with a condition on its ``version``) so that concurrent workers of different jobs see the
same numbers. ``RateBudget.take`` is asked before every call: it spends one request of the window,
keeping a ``margin`` back for other callers' requests in flight; when the window is spent (or a
429 said to wait) it answers how long to wait instead of letting the call go. ``RateBudget.learn``
takes every answer's headers: the window, as Calendly sees it, replaces calsync's guess. Until a
connection has been heard from, its limit is assumed to be the Free plan's (50): a Free-plan
connection is never pushed into a 429 to find out. Pure domain code: no AWS, no httpx.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

FREE_PLAN_LIMIT = 50  # requests per user per minute until Calendly says otherwise
WINDOW_SECONDS = 60.0  # Calendly's window ("typically 60 seconds")
TOKEN_REQUESTS_PER_MINUTE = 8
DEFAULT_MARGIN = 0.1  # of the limit, kept back for requests already in flight elsewhere
DEFAULT_WAIT_AFTER_429 = 60.0  # a 429 without a usable reset header
MAX_CONFLICTS = 8  # conditional-write retries before giving up (DependencyUnavailable-like)


@dataclass(frozen=True, slots=True)
class Allowance:
    """What calsync knows of one connection's Calendly rate limit (epoch seconds)."""

    limit: int = FREE_PLAN_LIMIT
    remaining: int = FREE_PLAN_LIMIT
    window_ends: float = 0.0  # when ``remaining`` is back to ``limit``
    blocked_until: float = 0.0  # a 429 said: nothing before then
    learned: bool = False  # the limit came from Calendly's headers
    token_calls: tuple[float, ...] = ()  # token requests in the last minute
    throttled: int = 0  # 429s seen (a counter for reports)
    version: int = 0  # the record's version (conditional writes)

    def as_dict(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "window_ends": self.window_ends,
            "blocked_until": self.blocked_until,
            "learned": self.learned,
            "token_calls": list(self.token_calls),
            "throttled": self.throttled,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, object]) -> Allowance:
        def num(key: str, default: float) -> float:
            value = raw.get(key, default)
            return float(value) if isinstance(value, int | float) else default

        calls = raw.get("token_calls") or []
        return cls(
            limit=int(num("limit", FREE_PLAN_LIMIT)),
            remaining=int(num("remaining", FREE_PLAN_LIMIT)),
            window_ends=num("window_ends", 0.0),
            blocked_until=num("blocked_until", 0.0),
            learned=bool(raw.get("learned", False)),
            token_calls=tuple(float(c) for c in calls if isinstance(c, int | float)) if isinstance(calls, list) else (),
            throttled=int(num("throttled", 0)),
            version=int(num("version", 0)),
        )


@dataclass(frozen=True, slots=True)
class RateHeaders:
    """The rate-limit part of one Calendly answer (``calsync.calendly`` parses it from the headers)."""

    status: int
    limit: int | None = None
    remaining: int | None = None
    reset_seconds: float | None = None
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, status: int, headers: Mapping[str, str]) -> RateHeaders:
        """Case-insensitive ``headers`` (httpx's are); unparsable values are ignored."""

        def number(name: str) -> float | None:
            raw = headers.get(name)
            if raw is None:
                return None
            try:
                value = float(raw)
            except ValueError:
                return None
            return value if math.isfinite(value) and value >= 0 else None

        limit, remaining = number("X-RateLimit-Limit"), number("X-RateLimit-Remaining")
        return cls(
            status=status,
            limit=int(limit) if limit else None,
            remaining=int(remaining) if remaining is not None else None,
            reset_seconds=number("X-RateLimit-Reset"),
            retry_after=number("Retry-After"),
        )


class BudgetStore(Protocol):
    """One ``Allowance`` per connection. ``put`` applies only if the stored version is still
    ``expected`` (0: no record yet) and returns False otherwise (someone else wrote meanwhile)."""

    def get(self, connection_id: str) -> Allowance: ...
    def put(self, connection_id: str, allowance: Allowance, *, expected: int) -> bool: ...


class BudgetContended(Exception):
    """The record kept changing under us (more than ``MAX_CONFLICTS`` conditional failures)."""


class RateLimited(Exception):
    """The connection's budget has nothing left for ``wait`` seconds: the unit of work is put off
    (retried later), nothing was sent."""

    def __init__(self, connection_id: str, wait: float, what: str) -> None:
        super().__init__(f"{what} budget of {connection_id} spent for {wait:.0f} s")
        self.connection_id = connection_id
        self.wait = wait
        self.what = what


def spread_seconds(connection_id: str, span: int) -> int:
    """A stable offset in [0, span) for a connection (the same on every run, evenly spread)."""
    if span <= 0:
        return 0
    digest = hashlib.sha256(connection_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % span


def _same(a: Allowance, b: Allowance) -> bool:
    """Equal but for the version and a window end within a second (rounding of ``X-RateLimit-Reset``)."""
    return replace(a, version=0, window_ends=0.0) == replace(b, version=0, window_ends=0.0) and (
        abs(a.window_ends - b.window_ends) < 1.0
    )


def _usable(allowance: Allowance, now: float) -> Allowance:
    """The allowance at ``now``: a window that ended is full again; old token calls forgotten."""
    if now >= allowance.window_ends and allowance.remaining < allowance.limit:
        allowance = replace(allowance, remaining=allowance.limit, window_ends=now + WINDOW_SECONDS)
    elif now >= allowance.window_ends:
        allowance = replace(allowance, window_ends=now + WINDOW_SECONDS)
    recent = tuple(t for t in allowance.token_calls if now - t < WINDOW_SECONDS)
    return replace(allowance, token_calls=recent) if recent != allowance.token_calls else allowance


def decide(allowance: Allowance, now: float, *, token: bool = False, margin: float = DEFAULT_MARGIN) -> float:
    """0 if a call may go now, else how many seconds to wait (pure)."""
    current = _usable(allowance, now)
    if now < current.blocked_until:
        return current.blocked_until - now
    if token and len(current.token_calls) >= TOKEN_REQUESTS_PER_MINUTE:
        return current.token_calls[0] + WINDOW_SECONDS - now
    keep = max(1, math.ceil(current.limit * margin))
    if current.remaining <= keep:
        return max(current.window_ends - now, 0.001)
    return 0.0


def spent(allowance: Allowance, now: float, *, token: bool = False) -> Allowance:
    """The allowance after one call went at ``now`` (pure)."""
    current = _usable(allowance, now)
    calls = (*current.token_calls, now) if token else current.token_calls
    return replace(current, remaining=current.remaining - (0 if token else 1), token_calls=calls)


def learned(allowance: Allowance, answer: RateHeaders, now: float) -> Allowance:
    """The allowance after Calendly's ``answer`` at ``now`` (pure): its headers replace the guess;
    a 429 blocks until its reset (or ``Retry-After``, or a minute when it says neither)."""
    current = _usable(allowance, now)
    if answer.limit is not None:
        current = replace(current, limit=answer.limit, learned=True)
    if answer.remaining is not None:
        current = replace(current, remaining=answer.remaining)
    if answer.reset_seconds is not None:
        current = replace(current, window_ends=now + answer.reset_seconds)
    if answer.status == 429:
        wait = next((w for w in (answer.retry_after, answer.reset_seconds) if w is not None), DEFAULT_WAIT_AFTER_429)
        current = replace(
            current, remaining=0, blocked_until=max(current.blocked_until, now + wait), throttled=current.throttled + 1
        )
        current = replace(current, window_ends=max(current.window_ends, current.blocked_until))
    return current


@dataclass
class RateBudget:
    """The shared budget of one connection over its ``BudgetStore``. ``before_call`` spends one
    request (or raises ``RateLimited`` when the wait is longer than ``max_wait``, after sleeping
    shorter waits); ``after_answer`` learns from Calendly's headers. Every change is a conditional
    write, retried on conflict with a fresh read."""

    store: BudgetStore
    connection_id: str
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    max_wait: float = 0.0  # a wait up to this is slept through; longer ones raise RateLimited
    margin: float = DEFAULT_MARGIN
    calls: int = field(default=0)  # requests this budget let go (a report's figure)

    def _change(self, change: Callable[[Allowance], Allowance | None]) -> Allowance | None:
        for _ in range(MAX_CONFLICTS):
            before = self.store.get(self.connection_id)
            after = change(before)
            if after is None:
                return None
            if _same(before, after):
                return after  # nothing new (an answer that says what calsync counted): no write
            if self.store.put(self.connection_id, replace(after, version=before.version + 1), expected=before.version):
                return after
        raise BudgetContended(f"rate budget of {self.connection_id} kept changing")

    def _take(self, allowance: Allowance, token: bool, waits: list[float]) -> Allowance | None:
        now = self.clock()
        wait = decide(allowance, now, token=token, margin=self.margin)
        if wait > 0:
            waits.append(wait)
            return None
        return spent(allowance, now, token=token)

    def before_call(self, *, token: bool = False) -> None:
        what = "token" if token else "api"
        while True:
            waits: list[float] = []
            if self._change(lambda allowance: self._take(allowance, token, waits)) is not None:  # noqa: B023
                self.calls += 1
                return
            if waits[-1] > self.max_wait:
                raise RateLimited(self.connection_id, waits[-1], what)
            self.sleep(waits[-1])

    def before_token_call(self) -> None:
        self.before_call(token=True)

    def after_answer(self, answer: RateHeaders) -> None:
        if answer.status != 429 and answer.limit is None and answer.remaining is None:
            return  # nothing learned (e.g. the token endpoint): no write
        now = self.clock()
        self._change(lambda allowance: learned(allowance, answer, now))


class MemoryBudgets:
    """``BudgetStore`` in memory (tests, the scale simulation)."""

    def __init__(self) -> None:
        self.items: dict[str, Allowance] = {}
        self.reads = 0
        self.writes = 0

    def get(self, connection_id: str) -> Allowance:
        self.reads += 1
        return self.items.get(connection_id, Allowance())

    def put(self, connection_id: str, allowance: Allowance, *, expected: int) -> bool:
        self.writes += 1
        if self.items.get(connection_id, Allowance()).version != expected:
            return False
        self.items[connection_id] = allowance
        return True
