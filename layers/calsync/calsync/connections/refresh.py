"""Keep every OAuth connection's access token alive without breaking the refresh chain.

Calendly's refresh tokens are single use: the moment one is exchanged, the old one is
revoked. So, per connection: take a lease (one refresher at a time; ``calsync connect`` takes
it too), re-read the token under the lease (someone may just have refreshed), make sure the
run has time to store the result, exchange, and persist the new token *before anything
else*, retrying the write.

What the token endpoint answers decides the connection's fate, and each case has its own
reason an operator can act on (``calsync connections`` shows it):

- ``invalid_grant``: the chain is broken (revoked, app uninstalled, used elsewhere): the
  connection becomes ``reauth_required`` and is never retried until it is connected again;
- no usable answer (read timeout, dropped connection, 5xx): Calendly may have used the token.
  It is not re-sent in this run; ``refresh_unconfirmed`` is recorded and the next run sends it
  once more: a success clears it, ``invalid_grant`` then means calsync lost the answer and the
  connection becomes ``reauth_required`` with reason ``refresh_response_lost``;
- a 2xx that is not a token response: the token is spent and the new one unreadable:
  ``reauth_required`` with reason ``token_response_invalid``.

Every status change is conditioned on the token generation it was based on: a refresher
working on a token from before a re-connect cannot mark the fresh connection. A failure on
one connection is recorded on it (``last_refresh_error``) and the run goes on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from calsync import timefmt
from calsync.calendly.errors import CalendlyError, InvalidGrant, TokenOutcomeUnknown, TokenResponseInvalid
from calsync.connections.budget import RateLimited
from calsync.connections.each import Failure, each_connection, failure_of, unbounded
from calsync.connections.ports import Registry, TokenEndpoint, Tokens
from calsync.connections.records import Connection, StoredToken
from calsync.errors import DependencyUnavailable

REFRESH_WHEN_UNDER_SECONDS = 45 * 60
WRITE_ATTEMPTS = 3
WRITE_BACKOFF_SECONDS = (0.5, 1.0)  # between the write attempts


@dataclass(frozen=True, slots=True)
class TokenCallLimits:
    """How long one token request may take (``compose`` builds the refresher's OAuth client
    from these): a refused connection and a 429 are retried ``max_retries`` times each,
    nothing else is (calsync.calendly.client)."""

    connect_seconds: float = 3.0
    read_seconds: float = 10.0  # also the write and pool timeouts
    max_retries: int = 1
    max_rate_limit_wait: float = 5.0
    backoff_cap: float = 8.0  # the client's back-off cap

    def options(self) -> dict[str, float]:
        """Keyword arguments for ``OAuthClient`` (as ``calendly.limits.CallLimits.options``)."""
        return {
            "timeout": self.read_seconds,
            "connect_timeout": self.connect_seconds,
            "max_retries": self.max_retries,
            "max_rate_limit_wait": self.max_rate_limit_wait,
        }

    @property
    def worst_case(self) -> float:
        attempts = 1 + 2 * self.max_retries
        per_attempt = self.connect_seconds + 2 * self.read_seconds  # connect, send, answer
        return attempts * per_attempt + self.max_retries * (self.backoff_cap + self.max_rate_limit_wait)


TOKEN_CALL = TokenCallLimits()
# One AWS call at most (aws/clients.py: 3 attempts × (connect 2 s + read 5 s) + back-off ≤ 6 s).
AWS_CALL_SECONDS = 27.0
# Once a token is spent: the token call, every write attempt, the registry update, the lease release.
REFRESH_WORST_CASE_SECONDS = (
    TOKEN_CALL.worst_case + WRITE_ATTEMPTS * AWS_CALL_SECONDS + sum(WRITE_BACKOFF_SECONDS) + 2 * AWS_CALL_SECONDS
)
# A connection is started only with this much of the run left (its lease and token reads; the
# exchange itself waits for REFRESH_WORST_CASE_SECONDS): the rest are deferred to the next run.
START_WITHIN_SECONDS = 2 * AWS_CALL_SECONDS
# Longer than the refresher's Timeout (template.yaml, 300 s; a unit test checks the order
# worst case < timeout < lease): a lease outlives its holder, so it never expires under a
# refresher that still runs.
LEASE_SECONDS = 330


class TokenBudget(Protocol):
    def before_token_call(self) -> None: ...


class Outcome(StrEnum):
    REFRESHED = "refreshed"
    FRESH = "fresh"  # more than the threshold left: nothing to do
    LEASED = "leased"  # another refresher (or a connect) holds the lease
    SKIPPED = "skipped"  # not an OAuth connection, or already reauth_required
    REAUTH_REQUIRED = "reauth_required"
    UNCONFIRMED = "unconfirmed"  # the answer was lost: recorded, re-sent once next run
    DEFERRED = "deferred"  # not enough time left in this run to spend the token safely
    SUPERSEDED = "superseded"  # re-connected meanwhile: this run's result no longer applies
    FAILED = "failed"  # transient or local: recorded on the connection, retried next run
    WRITE_FAILED = "write_failed"  # the new token could not be stored: alarm


@dataclass
class Refresher:
    registry: Registry
    tokens: Tokens
    oauth: TokenEndpoint
    owner: str  # who holds the lease (the invocation's request id)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    threshold_seconds: int = REFRESH_WHEN_UNDER_SECONDS
    write_attempts: int = WRITE_ATTEMPTS
    time_left: Callable[[], float] = unbounded  # seconds this run has left
    report: Callable[[str, Connection, str], None] = field(default=lambda outcome, connection, detail: None)
    # The connection's shared Calendly budget (connections.budget), asked before each token request
    # (at most 8 a minute per user); None: no budget (the CLI, older tests).
    token_budget: Callable[[str], TokenBudget] | None = None

    def _now_iso(self) -> str:
        return timefmt.iso_z(timefmt.from_epoch(self.clock()))

    def due(self, token: StoredToken) -> bool:
        return token.expires_at is not None and token.expires_at - self.clock() < self.threshold_seconds

    def run(self) -> dict[str, Outcome]:
        """Every connection, each on its own (``connections.each``): one's failure is recorded on
        it and the run goes on; the ones this run has no time left to start are deferred."""
        done = each_connection(
            (c for c in self.registry.all() if c.status != "removed"),  # disconnected: nothing to do
            self._refresh_reported,
            failed=self._failed,
            time_left=self.time_left,
            start_within=START_WITHIN_SECONDS,
        )
        for connection in done.left:
            self.report(Outcome.DEFERRED, connection, f"not started: {done.stopped_with:.0f} s left in this run")
        return {**done.results, **dict.fromkeys(done.left_ids, Outcome.DEFERRED)}

    def one(self, connection: Connection) -> Outcome:
        """One connection, as a fanned-out unit of work (``calsync.fanout.worker``): its outcome is
        reported; a failure is recorded on it and raised (the queue retries the unit alone, then
        dead-letters it); ``RateLimited`` is raised untouched (the worker puts the unit off)."""
        try:
            return self._refresh_reported(connection)
        except RateLimited:
            raise
        except Exception as exc:
            self._failed(connection, failure_of(exc))
            raise

    def _refresh_reported(self, connection: Connection) -> Outcome:
        outcome, detail = self.refresh(connection)
        self.report(outcome, connection, detail)
        return outcome

    def _failed(self, connection: Connection, failure: Failure) -> Outcome:
        self._record(connection, connection.token_generation, failure.reason, failure.detail)
        self.report(Outcome.FAILED, connection, str(failure))
        return Outcome.FAILED

    def _record(self, connection: Connection, generation: str | None, reason: str, detail: str) -> None:
        try:
            self.registry.record_error(
                connection.connection_id,
                job="refresh",
                reason=reason,
                detail=detail,
                now=self._now_iso(),
                generation=generation,
            )
        except DependencyUnavailable:
            return  # the report still logs and counts it

    def refresh(self, connection: Connection) -> tuple[Outcome, str]:
        if connection.kind != "oauth" or connection.status != "active":
            return Outcome.SKIPPED, f"{connection.kind}/{connection.status}"
        if not self.due(self.tokens.get(connection.connection_id)):
            return Outcome.FRESH, "token has time left"
        cid = connection.connection_id
        if not self.registry.acquire_lease(cid, owner=self.owner, now=int(self.clock()), seconds=LEASE_SECONDS):
            return Outcome.LEASED, "another refresher or a connect holds the lease"
        result: tuple[Outcome, str] | None = None
        try:
            token = self.tokens.get(cid)  # under the lease: the latest, maybe just refreshed
            if not self.due(token):
                return Outcome.FRESH, "refreshed by another run"
            if token.refresh_token is None:
                return Outcome.SKIPPED, "no refresh token"
            left = self.time_left()
            if left < REFRESH_WORST_CASE_SECONDS:
                return (
                    Outcome.DEFERRED,
                    f"{left:.0f} s left in this run, a refresh may take {REFRESH_WORST_CASE_SECONDS:.0f} s",
                )
            result = self._exchange(connection, token)
            return result
        finally:
            # After a failed write the old refresh token is spent and the new one only in
            # memory: keep the lease (no one may use the old token).
            if result is None or result[0] != Outcome.WRITE_FAILED:
                self.registry.release_lease(cid, owner=self.owner)

    def _exchange(self, connection: Connection, token: StoredToken) -> tuple[Outcome, str]:
        cid, generation = connection.connection_id, token.generation
        assert token.refresh_token is not None
        if self.token_budget is not None:
            self.token_budget(cid).before_token_call()  # may raise RateLimited: nothing spent
        try:
            issued = self.oauth.refresh(token.refresh_token)
        except InvalidGrant:
            lost = connection.refresh_unconfirmed is not None
            reason = "refresh_response_lost" if lost else "invalid_grant"
            return self._reauth(cid, generation, reason, "Calendly refused the refresh token (invalid_grant)")
        except TokenOutcomeUnknown as exc:
            applied = self.registry.refresh_unconfirmed(
                cid, reason="refresh_response_lost", now=self._now_iso(), generation=generation
            )
            if not applied:
                return Outcome.SUPERSEDED, "answer lost, and the connection was re-connected meanwhile"
            return Outcome.UNCONFIRMED, f"no usable answer ({exc.status or 'none'}); re-sent once on the next run"
        except TokenResponseInvalid:
            return self._reauth(cid, generation, "token_response_invalid", "Calendly's token answer was unreadable")
        except CalendlyError as exc:
            detail = f"token endpoint: {type(exc).__name__} {exc.status}"
            self._record(connection, generation, "token_endpoint_error", detail)
            return Outcome.FAILED, detail
        new = StoredToken.from_oauth(issued, organization=token.organization, generation=generation)
        if not self._write(cid, new):
            self.registry.mark_reauth_required(
                cid, reason="token_write_failed", now=self._now_iso(), generation=generation
            )
            return Outcome.WRITE_FAILED, "the new token could not be stored"
        if not self.registry.token_refreshed(
            cid, expires_at=new.expires_at or 0, now=self._now_iso(), generation=generation
        ):
            return Outcome.REFRESHED, f"expires at {new.expires_at}; the registry describes a newer connect"
        return Outcome.REFRESHED, f"expires at {new.expires_at}"

    def _reauth(self, cid: str, generation: str | None, reason: str, detail: str) -> tuple[Outcome, str]:
        if not self.registry.mark_reauth_required(cid, reason=reason, now=self._now_iso(), generation=generation):
            return Outcome.SUPERSEDED, f"{detail}; the connection was re-connected meanwhile, left as it is"
        return Outcome.REAUTH_REQUIRED, f"{detail} ({reason})"

    def _write(self, connection_id: str, token: StoredToken) -> bool:
        for attempt in range(self.write_attempts):
            try:
                self.tokens.put(connection_id, token)
                return True
            except DependencyUnavailable:
                if attempt + 1 < self.write_attempts:
                    self.sleep(WRITE_BACKOFF_SECONDS[min(attempt, len(WRITE_BACKOFF_SECONDS) - 1)])
        return False
