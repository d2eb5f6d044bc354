"""Keep every OAuth connection's access token alive without breaking the refresh chain.

Calendly's refresh tokens are single use: the moment one is exchanged, the old one is
revoked. So, per connection: take a lease (one refresher at a time), re-read the token
under the lease (someone may just have refreshed), exchange, and persist the new token
*before anything else*, retrying the write. ``invalid_grant`` means the chain is broken
(the token was used elsewhere or revoked): the connection becomes ``reauth_required`` and
is never retried until an operator reconnects it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from calsync.calendly.errors import CalendlyError, InvalidGrant
from calsync.connections.ports import Registry, TokenEndpoint, Tokens
from calsync.connections.records import Connection, StoredToken, TokenNotFound
from calsync.errors import DependencyUnavailable

REFRESH_WHEN_UNDER_SECONDS = 45 * 60
LEASE_SECONDS = 120
WRITE_ATTEMPTS = 5


class Outcome(StrEnum):
    REFRESHED = "refreshed"
    FRESH = "fresh"  # more than the threshold left: nothing to do
    LEASED = "leased"  # another refresher holds the lease
    SKIPPED = "skipped"  # not an OAuth connection, or already reauth_required
    REAUTH_REQUIRED = "reauth_required"
    FAILED = "failed"  # transient: retried on the next run
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
    report: Callable[[str, Connection, str], None] = field(default=lambda outcome, connection, detail: None)

    def _now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")

    def due(self, token: StoredToken) -> bool:
        return token.expires_at is not None and token.expires_at - self.clock() < self.threshold_seconds

    def run(self) -> dict[str, Outcome]:
        results: dict[str, Outcome] = {}
        for connection in self.registry.all():
            try:
                outcome, detail = self.refresh(connection)
            except (DependencyUnavailable, TokenNotFound) as exc:
                outcome, detail = Outcome.FAILED, f"{type(exc).__name__}: {exc}"
            results[connection.connection_id] = outcome
            self.report(outcome, connection, detail)
        return results

    def refresh(self, connection: Connection) -> tuple[Outcome, str]:
        if connection.kind != "oauth" or connection.status != "active":
            return Outcome.SKIPPED, f"{connection.kind}/{connection.status}"
        if not self.due(self.tokens.get(connection.connection_id)):
            return Outcome.FRESH, "token has time left"
        cid = connection.connection_id
        if not self.registry.acquire_lease(cid, owner=self.owner, now=int(self.clock()), seconds=LEASE_SECONDS):
            return Outcome.LEASED, "another refresher holds the lease"
        keep_lease = False
        try:
            token = self.tokens.get(cid)  # under the lease: the latest, maybe just refreshed
            if not self.due(token):
                return Outcome.FRESH, "refreshed by another run"
            if token.refresh_token is None:
                return Outcome.SKIPPED, "no refresh token"
            try:
                issued = self.oauth.refresh(token.refresh_token)
            except InvalidGrant:
                self.registry.mark_reauth_required(cid, reason="invalid_grant", now=self._now_iso())
                return Outcome.REAUTH_REQUIRED, "Calendly refused the refresh token (invalid_grant)"
            except CalendlyError as exc:
                return Outcome.FAILED, f"token endpoint: {type(exc).__name__} {exc.status}"
            new = StoredToken.from_oauth(issued, organization=token.organization)
            if not self._write(cid, new):
                # The old refresh token is spent and the new one is only in memory: keep the
                # lease (no one may use the old token) and make it loud.
                keep_lease = True
                self.registry.mark_reauth_required(cid, reason="token_write_failed", now=self._now_iso())
                return Outcome.WRITE_FAILED, "the new token could not be stored"
            self.registry.token_refreshed(cid, expires_at=new.expires_at or 0, now=self._now_iso())
            return Outcome.REFRESHED, f"expires at {new.expires_at}"
        finally:
            if not keep_lease:
                self.registry.release_lease(cid, owner=self.owner)

    def _write(self, connection_id: str, token: StoredToken) -> bool:
        for attempt in range(self.write_attempts):
            try:
                self.tokens.put(connection_id, token)
                return True
            except DependencyUnavailable:
                if attempt + 1 < self.write_attempts:
                    self.sleep(min(8.0, 0.5 * 2**attempt))
        return False
