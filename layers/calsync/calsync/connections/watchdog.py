"""Make sure every active connection's webhook subscription exists and is delivering.

Calendly disables a subscription after 24 h of failed deliveries; a disabled one never
comes back by itself. Hourly, per connection: find our subscription (by callback URL);
if Calendly is retrying (``retry_started_at``), say so; if it is missing or disabled,
re-create it and record when, so the gap can be backfilled from the API later. A check that
fails (Calendly or AWS trouble, a missing or unreadable token) is recorded on that connection
(``last_check_error``) and the run goes on with the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from calsync.calendly.errors import CalendlyAuthError
from calsync.connections.connect import ensure_subscription
from calsync.connections.ports import Calendly, Registry
from calsync.connections.records import Connection
from calsync.connections.refresh import failure_reason
from calsync.errors import DependencyUnavailable


class Health(StrEnum):
    HEALTHY = "healthy"
    FAILING = "failing"  # Calendly is retrying deliveries (retry_started_at set)
    RECREATED = "recreated"  # was missing or disabled; a new one now exists
    SKIPPED = "skipped"  # connection not active
    ERROR = "error"  # could not check (Calendly or AWS trouble); next run retries


@dataclass
class Watchdog:
    registry: Registry
    calendly_for: Callable[[Connection], Calendly]
    signing_key_for: Callable[[Connection], str | None]  # PAT connections re-send their key
    clock: Callable[[], float] = time.time
    report: Callable[[Health, Connection, str], None] = field(default=lambda health, connection, detail: None)

    def _now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).isoformat().replace("+00:00", "Z")

    def run(self) -> dict[str, Health]:
        """Every connection, each on its own: one's failure is recorded on it and the run goes on."""
        results: dict[str, Health] = {}
        for connection in self.registry.all():
            try:
                health, detail = self.check(connection)
            except Exception as exc:
                reason, safe = failure_reason(exc)
                self._record(connection, reason, safe)
                health, detail = Health.ERROR, f"{reason}: {safe}"
            results[connection.connection_id] = health
            self.report(health, connection, detail)
        return results

    def _record(self, connection: Connection, reason: str, detail: str) -> None:
        try:
            self.registry.record_error(
                connection.connection_id,
                job="check",
                reason=reason,
                detail=detail,
                now=self._now_iso(),
                generation=connection.token_generation,
            )
        except DependencyUnavailable:
            return  # the report still logs and counts it

    def check(self, connection: Connection) -> tuple[Health, str]:
        if connection.status != "active":
            return Health.SKIPPED, connection.status
        calendly = self.calendly_for(connection)
        try:
            return self._check(connection, calendly)
        finally:
            calendly.close()

    def _check(self, connection: Connection, calendly: Calendly) -> tuple[Health, str]:
        try:
            ours = next(
                (
                    s
                    for s in calendly.list_webhook_subscriptions(connection.organization, "organization")
                    if s.callback_url == connection.callback_url
                ),
                None,
            )
        except CalendlyAuthError:
            self._record(connection, "token_refused", "Calendly refused the token (401)")
            return Health.ERROR, "Calendly refused the token"
        if ours is not None and ours.state != "disabled":
            if ours.retry_started_at is not None:
                return Health.FAILING, f"Calendly retrying since {ours.retry_started_at.isoformat()}"
            return Health.HEALTHY, str(ours.uri)
        problem = "missing" if ours is None else "disabled"
        gap_since = (ours.retry_started_at or ours.updated_at) if ours is not None else None
        replacement = ensure_subscription(
            calendly,
            url=connection.callback_url,
            organization=connection.organization,
            signing_key=self.signing_key_for(connection),
        )
        now = self._now_iso()
        self.registry.subscription_replaced(
            connection.connection_id,
            subscription_uri=str(replacement.uri),
            record={
                "recreated_at": now,
                "was": problem,
                "previous_uri": str(ours.uri) if ours is not None else connection.subscription_uri,
                "gap_since": gap_since.isoformat() if gap_since is not None else None,
            },
            now=now,
            generation=connection.token_generation,
        )
        return Health.RECREATED, f"was {problem}; now {replacement.uri}"
