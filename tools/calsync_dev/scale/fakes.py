"""The scale simulation's in-memory world: a registry and token store that count their AWS-like
requests, and a lightweight in-process fake Calendly (one rate window per connection, answering
``X-RateLimit-*`` figures and 429s, with bursts of 5xx and 429) on the simulation's clock.

Every Calendly call goes through the connection's real ``RateBudget`` (``before_call`` /
``after_answer``) exactly as the Calendly client's hooks do in production."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from calsync.calendly.bodies import OAuthToken
from calsync.calendly.errors import CalendlyAuthError, CalendlyRateLimited, CalendlyUnavailable, InvalidGrant
from calsync.calendly.models import ScheduledEvent, User, WebhookSubscription
from calsync.connections.budget import RateBudget, RateHeaders
from calsync.connections.records import Connection, PendingAuthorization, StoredToken

WINDOW = 60.0
CALL_SECONDS = 0.25  # one Calendly API call, simulated
TOKEN_CALL_SECONDS = 0.4
DYNAMODB_SECONDS = 0.008
SECRETS_SECONDS = 0.03


class Clock:
    """The simulation's clock: the event loop sets it; a running unit advances it."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Meter:
    """AWS-like requests made (DynamoDB, Secrets Manager) — the cost figures' source."""

    dynamodb: int = 0  # requests (reads + writes)
    dynamodb_reads: int = 0
    secrets: int = 0


class SimRegistry:
    """The connection records (``Registry``'s methods the jobs use), counting DynamoDB requests."""

    def __init__(self, connections: Iterable[Connection], clock: Clock, meter: Meter) -> None:
        self.items = {c.connection_id: c for c in connections}
        self.leases: dict[str, tuple[str, float]] = {}
        self.clock, self.meter = clock, meter

    def _op(self) -> None:
        self.meter.dynamodb += 1
        self.clock.advance(DYNAMODB_SECONDS)

    def get(self, connection_id: str) -> Connection | None:
        self._op()
        self.meter.dynamodb_reads += 1
        return self.items.get(connection_id)

    def all(self) -> Iterator[Connection]:
        return iter(list(self.items.values()))

    def _update(self, cid: str, generation: str | None, **values: Any) -> bool:
        self._op()
        c = self.items.get(cid)
        if c is None or c.token_generation != generation:
            return False
        self.items[cid] = replace(c, **values)
        return True

    def mark_reauth_required(self, connection_id: str, *, reason: str, now: str, generation: str | None) -> bool:
        return self._update(connection_id, generation, status="reauth_required", status_reason=reason)

    def token_refreshed(self, connection_id: str, *, expires_at: int, now: str, generation: str | None) -> bool:
        return self._update(
            connection_id, generation, token_expires_at=expires_at, refresh_unconfirmed=None, last_refresh_error=None
        )

    def record_error(
        self, connection_id: str, *, job: str, reason: str, detail: str, now: str, generation: str | None
    ) -> bool:
        return self._update(connection_id, generation, **{f"last_{job}_error": {"reason": reason, "at": now}})

    def refresh_unconfirmed(self, connection_id: str, *, reason: str, now: str, generation: str | None) -> bool:
        return self._update(connection_id, generation, refresh_unconfirmed={"reason": reason, "at": now})

    def subscription_replaced(
        self, connection_id: str, *, subscription_uri: str, record: Mapping[str, Any], now: str, generation: str | None
    ) -> bool:
        return self._update(connection_id, generation, subscription_uri=subscription_uri)

    def subscription_healthy(self, connection_id: str, *, now: str, generation: str | None) -> bool:
        return self._update(connection_id, generation, subscription_healthy_at=now, last_check_error=None)

    def gap_reconcile(self, connection_id: str, *, record: Mapping[str, Any], now: str, generation: str | None) -> bool:
        return self._update(connection_id, generation, gap_reconcile=dict(record))

    def subscription_events(
        self, connection_id: str, *, record: Mapping[str, Any], now: str, generation: str | None
    ) -> bool:
        return self._update(connection_id, generation, subscription_events=dict(record))

    def acquire_lease(self, connection_id: str, *, owner: str, now: int, seconds: int) -> bool:
        self._op()
        held = self.leases.get(connection_id)
        if held is not None and held[1] >= now:
            return False
        self.leases[connection_id] = (owner, now + seconds)
        return True

    def release_lease(self, connection_id: str, *, owner: str) -> None:
        self._op()
        if self.leases.get(connection_id, ("", 0))[0] == owner:
            del self.leases[connection_id]

    # Not used by the scheduled jobs (connect, disconnect).
    def register(self, connection: Connection, *, now: str) -> None:
        self._op()
        self.items[connection.connection_id] = connection

    def mark_removed(self, connection_id: str, *, owner: str, pending: list[str], now: str) -> bool:
        raise AssertionError("not simulated")

    def removal_progress(self, connection_id: str, *, owner: str, pending: list[str], now: str) -> bool:
        raise AssertionError("not simulated")

    def put_pending(self, pending: PendingAuthorization) -> None:
        raise AssertionError("not simulated")

    def take_pending(self, state: str, *, now: int) -> PendingAuthorization | None:
        raise AssertionError("not simulated")


class SimTokens:
    """The token secrets, counting Secrets Manager requests."""

    def __init__(self, clock: Clock, meter: Meter) -> None:
        self.tokens: dict[str, StoredToken] = {}
        self.clock, self.meter = clock, meter

    def secret_name(self, connection_id: str) -> str:
        return f"calsync/sim/tokens/{connection_id}"

    def get(self, connection_id: str) -> StoredToken:
        self.meter.secrets += 1
        self.clock.advance(SECRETS_SECONDS)
        return self.tokens[connection_id]

    def put(self, connection_id: str, token: StoredToken) -> str:
        self.meter.secrets += 1
        self.clock.advance(SECRETS_SECONDS)
        self.tokens[connection_id] = token
        return self.secret_name(connection_id)


@dataclass(frozen=True)
class Burst:
    start: float
    end: float
    status: int  # 503 or 429
    share: float  # of the calls in the burst answered with ``status``


@dataclass
class Account:
    limit: int
    revoked: bool = False
    subscription: str = "active"  # or "disabled"
    offset: float = 0.0  # where this user's rate windows start


@dataclass
class FakeCalendly:
    """Calendly as far as the scheduled jobs see it: per user (connection) a fixed 60 s window of
    ``limit`` requests; a request over it is answered 429 (``over_limit``); bursts answer a share of
    all requests with 503 or 429 meanwhile."""

    clock: Clock
    accounts: dict[str, Account]
    bursts: list[Burst]
    seed: int = 7
    windows: Counter[tuple[str, int]] = field(default_factory=Counter)
    answers: Counter[str] = field(default_factory=Counter)
    over_limit: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)  # noqa: S311 (a simulation)

    def _burst(self, now: float) -> Burst | None:
        for burst in self.bursts:
            if burst.start <= now < burst.end and self.random.random() < burst.share:
                return burst
        return None

    def call(self, cid: str, budget: RateBudget) -> None:
        """One API request by ``cid``: asks its budget first, answers, teaches the budget."""
        budget.before_call()
        self.clock.advance(CALL_SECONDS)
        now = self.clock()
        account = self.accounts[cid]
        index = int((now - account.offset) // WINDOW)
        reset = account.offset + (index + 1) * WINDOW - now
        self.windows[(cid, index)] += 1
        used = self.windows[(cid, index)]
        burst = self._burst(now)
        if used > account.limit:
            self.over_limit.add(cid)
            status = 429
        elif burst is not None:
            status = burst.status
        else:
            status = 200
        remaining = max(0, account.limit - used)
        self.answers[str(status)] += 1
        budget.after_answer(RateHeaders(status, limit=account.limit, remaining=remaining, reset_seconds=reset))
        if status == 429:
            raise CalendlyRateLimited(429, "Too Many Requests", "rate limited", retry_after=reset)
        if status >= 500:
            raise CalendlyUnavailable(status, "Service Unavailable", "burst")
        if account.revoked:
            self.answers["401"] += 1
            raise CalendlyAuthError(401, "Unauthenticated", "token revoked")

    def refresh(self, cid: str) -> OAuthToken:
        """The token endpoint (no X-RateLimit headers; 8 a minute is the budget's own count)."""
        self.clock.advance(TOKEN_CALL_SECONDS)
        self.answers["token"] += 1
        if self.accounts[cid].revoked:
            raise InvalidGrant(400, "invalid_grant", "revoked")
        now = int(self.clock())
        return OAuthToken.model_validate(
            {
                "token_type": "Bearer",
                "access_token": f"a-{cid}-{now}",
                "refresh_token": f"r-{cid}-{now}",
                "expires_in": 7200,
                "created_at": now,
                "owner": f"https://api.calendly.com/users/{cid}",
                "organization": f"https://api.calendly.com/organizations/{cid}",
            }
        )

    def max_per_window(self) -> dict[str, int]:
        most: dict[str, int] = {}
        for (cid, _), n in self.windows.items():
            most[cid] = max(most.get(cid, 0), n)
        return most


@dataclass
class Endpoint:
    """The refresher's ``TokenEndpoint`` for one connection."""

    calendly: FakeCalendly
    cid: str

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> OAuthToken:
        raise AssertionError("not simulated")

    def refresh(self, refresh_token: str) -> OAuthToken:
        return self.calendly.refresh(self.cid)


@dataclass
class Port:
    """The watchdog's ``Calendly`` port for one connection: each request under the budget."""

    calendly: FakeCalendly
    connection: Connection
    budget: RateBudget

    def _call(self) -> None:
        self.calendly.call(self.connection.connection_id, self.budget)

    def get_current_user(self) -> User:
        raise AssertionError("not simulated")

    def list_scheduled_events(
        self, *, organization: str | None = None, min_start_time: datetime | str | None = None
    ) -> Iterator[ScheduledEvent]:
        self._call()
        return iter(())

    def _subscription(self, url: str, state: str) -> WebhookSubscription:
        cid = self.connection.connection_id
        return WebhookSubscription.model_validate(
            {
                "uri": f"https://api.calendly.com/webhook_subscriptions/{cid}-{zlib.crc32(url.encode())}",
                "callback_url": url,
                "events": ["invitee.created"],
                "scope": "organization",
                "organization": self.connection.organization,
                "state": state,
            }
        )

    def list_webhook_subscriptions(
        self, organization: str, scope: str, user: str | None = None
    ) -> Iterator[WebhookSubscription]:
        self._call()
        account = self.calendly.accounts[self.connection.connection_id]
        return iter([self._subscription(self.connection.callback_url, account.subscription)])

    def create_webhook_subscription(
        self,
        url: str,
        events: Iterable[str],
        organization: str,
        scope: str,
        user: str | None = None,
        signing_key: str | None = None,
    ) -> WebhookSubscription:
        self._call()
        self.calendly.accounts[self.connection.connection_id].subscription = "active"
        return self._subscription(url, "active")

    def delete_webhook_subscription(self, uuid_or_uri: str) -> None:
        self._call()

    def close(self) -> None:
        return None
