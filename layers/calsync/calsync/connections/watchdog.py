"""Make sure every active connection's webhook subscription exists and is delivering.

Calendly disables a subscription after 24 h of failed deliveries; a disabled one never
comes back by itself. Hourly, per connection: find our subscription (by callback URL, in
either of its forms: ``connections.subscriptions``); if Calendly is retrying
(``retry_started_at``), say so; if it is missing or disabled, replace it, new before old. Either
way a reconcile of the gap is requested (``connections.gaps``), once per gap. A check that fails
(Calendly or AWS trouble, a missing or unreadable token, a request that could not be sent) is
recorded on that connection (``last_check_error``) and the run goes on with the next one.

A delivering subscription that lacks events the token's scopes allow (one made before calsync
subscribed to all fourteen, or one the plan refused some to) is widened: a new one with the full
list, then the old one deleted (``subscriptions.widen``). Events Calendly refused again are
recorded and asked for again only after ``REFUSAL_RECHECK`` (a plan upgrade is noticed within a
day), so a Free plan costs no calls per run. The check runs under the connection's lease
(``one``), so no two replace it at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from calsync import timefmt
from calsync.calendly.errors import CalendlyAuthError
from calsync.calendly.models import WebhookSubscription
from calsync.connections import events, gaps
from calsync.connections.budget import RateLimited
from calsync.connections.each import Failure, each_connection, failure_of, failure_reason, unbounded
from calsync.connections.gaps import Gap
from calsync.connections.ports import Calendly, ReconcileRequests, Registry
from calsync.connections.records import Connection
from calsync.connections.subscriptions import current, delete_quietly, ours, replace, widen
from calsync.errors import DependencyUnavailable

DEFAULT_GAP_MARGIN = timedelta(hours=1)
# A check is started only with this much of the run left: one Calendly call at its worst
# (calendly/limits.py, INTERACTIVE: ~27 s) and a registry write. The rest wait for the next run.
START_WITHIN_SECONDS = 30.0
# A fanned-out check holds the connection's lease (two units for one connection never replace its
# subscription twice at once): longer than the watchdog's Timeout (template.yaml, 120 s).
CHECK_LEASE_SECONDS = 150
# Events Calendly refused (403) are asked for again after this long: a plan upgrade shows within
# a day, and a plan that keeps refusing costs a few calls a day, not a few an hour.
REFUSAL_RECHECK = timedelta(hours=24)


class Busy(Exception):
    """Another job holds the connection's lease: the unit is retried later by its queue."""


class Health(StrEnum):
    HEALTHY = "healthy"
    FAILING = "failing"  # Calendly is retrying deliveries (retry_started_at set)
    RECREATED = "recreated"  # was missing or disabled; a new one now exists
    WIDENED = "widened"  # delivering but lacking events: replaced by one with them (no gap, no alarm)
    SKIPPED = "skipped"  # connection not active
    ERROR = "error"  # could not check (Calendly or AWS trouble); next run retries
    DEFERRED = "deferred"  # not checked: the run had no time left to start it; next run checks it


@dataclass
class Watchdog:
    registry: Registry
    calendly_for: Callable[[Connection], Calendly]
    signing_key_for: Callable[[Connection], str | None]  # PAT connections re-send their key
    reconcile: ReconcileRequests  # where gap reconciles are requested
    gap_margin: timedelta = DEFAULT_GAP_MARGIN  # subtracted from the first failure
    clock: Callable[[], float] = time.time
    time_left: Callable[[], float] = unbounded  # seconds this run has left
    report: Callable[[Health, Connection, str], None] = field(default=lambda health, connection, detail: None)
    # each gap reconcile asked for: the gap, and the failure if it could not be sent (else None)
    report_gap: Callable[[Connection, Gap, str | None], None] = field(default=lambda connection, gap, error: None)

    def _now_iso(self) -> str:
        return timefmt.iso_z(timefmt.from_epoch(self.clock()))

    def run(self, time_left: Callable[[], float] | None = None) -> dict[str, Health]:
        """Every connection, each on its own (``connections.each``): one's failure is recorded on
        it and the run goes on; the ones this run has no ``time_left`` to start wait for the next."""
        done = each_connection(
            (c for c in self.registry.all() if c.status != "removed"),  # disconnected: nothing to do
            self._check_reported,
            failed=self._failed,
            time_left=time_left or self.time_left,
            start_within=START_WITHIN_SECONDS,
        )
        for connection in done.left:
            self.report(Health.DEFERRED, connection, f"not started: {done.stopped_with:.0f} s left in this run")
        return {**done.results, **dict.fromkeys(done.left_ids, Health.DEFERRED)}

    def one(self, connection: Connection, *, owner: str) -> Health:
        """One connection, as a fanned-out unit of work (``calsync.fanout.worker``), under the
        connection's lease (``Busy`` if another job holds it: retried). A failure is recorded on the
        connection and raised (the queue retries the unit alone, then dead-letters it);
        ``RateLimited`` is raised untouched (the worker puts the unit off)."""
        cid = connection.connection_id
        if not self.registry.acquire_lease(cid, owner=owner, now=int(self.clock()), seconds=CHECK_LEASE_SECONDS):
            raise Busy(f"{cid} is leased by another job")
        try:
            return self._check_reported(connection)
        except RateLimited:
            raise
        except Exception as exc:
            self._failed(connection, failure_of(exc))
            raise
        finally:
            self.registry.release_lease(cid, owner=owner)

    def _check_reported(self, connection: Connection) -> Health:
        health, detail = self.check(connection)
        self.report(health, connection, detail)
        return health

    def _failed(self, connection: Connection, failure: Failure) -> Health:
        self._record(connection, failure.reason, failure.detail)
        self.report(Health.ERROR, connection, str(failure))
        return Health.ERROR

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
            found = ours(
                calendly.list_webhook_subscriptions(connection.organization, "organization"), connection.callback_url
            )
        except CalendlyAuthError:
            self._record(connection, "token_refused", "Calendly refused the token (401)")
            return Health.ERROR, "Calendly refused the token"
        now = datetime.fromtimestamp(self.clock(), UTC)
        live = current(found, connection.subscription_uri)
        if live is not None:
            # a replacement whose delete failed left the old, disabled one behind
            delete_quietly(calendly, [s for s in found if s.state == "disabled"])
            if live.retry_started_at is not None:
                gap = gaps.retrying(live.retry_started_at, self.gap_margin)
                self._request(connection, gap, now)
                return Health.FAILING, gap.reason
            widened = self._add_missing(connection, calendly, live, found, now)
            if widened is not None:
                return widened
            self.registry.subscription_healthy(
                connection.connection_id, now=timefmt.iso_z(now), generation=connection.token_generation
            )
            self._request(connection, None, now)  # one that could not be sent before
            return Health.HEALTHY, str(live.uri)
        problem = "disabled" if found else "missing"
        started = gaps.first_failure(connection, found, now)
        missing_scopes = list((connection.subscription_events or {}).get("missing_scopes") or [])
        subscribed = replace(
            calendly,
            base_url=connection.callback_url,
            organization=connection.organization,
            signing_key=self.signing_key_for(connection),
            old=found,
            events=events.wanted(missing_scopes),
        )
        replacement = subscribed.subscription
        self.registry.subscription_replaced(
            connection.connection_id,
            subscription_uri=str(replacement.uri),
            record={
                "recreated_at": timefmt.iso_z(now),
                "was": problem,
                "previous_uri": str(found[0].uri) if found else connection.subscription_uri,
                "callback_url": replacement.callback_url,
                "gap_since": timefmt.iso_z(started),
            },
            now=timefmt.iso_z(now),
            generation=connection.token_generation,
        )
        self._events(connection, subscribed.events, list(subscribed.refused), now, force=True)
        self._request(connection, gaps.recreated(problem, started, self.gap_margin), now)
        return Health.RECREATED, f"was {problem}; now {replacement.uri}"

    def _add_missing(
        self,
        connection: Connection,
        calendly: Calendly,
        live: WebhookSubscription,
        found: list[WebhookSubscription],
        now: datetime,
    ) -> tuple[Health, str] | None:
        """Widen ``live`` to every event the token's scopes allow, unless it has them all or
        Calendly refused the ones it lacks less than ``REFUSAL_RECHECK`` ago. ``None``: kept."""
        stored = connection.subscription_events or {}
        lacking = [e for e in events.wanted(stored.get("missing_scopes")) if e not in live.events]
        refused_at = stored.get("at")
        if not lacking:
            self._events(connection, list(live.events), [], now, force=False)  # e.g. a record not kept yet
            return None
        if (
            set(lacking) <= set(stored.get("refused_events") or ())
            and isinstance(refused_at, str)
            and now - timefmt.parse(refused_at) < REFUSAL_RECHECK
        ):
            return None  # refused less than a day ago: nothing asked, nothing written
        widened = widen(
            calendly,
            base_url=connection.callback_url,
            organization=connection.organization,
            signing_key=self.signing_key_for(connection),
            live=live,
            found=found,
            events=events.wanted(stored.get("missing_scopes")),
        )
        if widened is None:  # Calendly refuses every one it lacks: kept, asked again in a day
            self._events(connection, list(live.events), lacking, now, force=True)
            return None
        new = widened.subscription
        added = [e for e in widened.events if e not in live.events]
        self.registry.subscription_replaced(
            connection.connection_id,
            subscription_uri=str(new.uri),
            record={
                "recreated_at": timefmt.iso_z(now),
                "was": "lacking_events",
                "previous_uri": str(live.uri),
                "callback_url": new.callback_url,
                "added_events": added,
            },
            now=timefmt.iso_z(now),
            generation=connection.token_generation,
        )
        self._events(connection, widened.events, list(widened.refused), now, force=True)
        return Health.WIDENED, f"added {', '.join(added)}; now {new.uri}"

    def _events(
        self, connection: Connection, subscribed: list[str], refused: list[str], now: datetime, *, force: bool
    ) -> None:
        """Record the subscription's events on the connection when they changed (or ``force``:
        a create was just tried, so its time is the refusal's)."""
        stored = connection.subscription_events or {}
        if not force and (stored.get("events"), stored.get("refused_events")) == (subscribed, refused):
            return
        missing_scopes = list(stored.get("missing_scopes") or [])
        self.registry.subscription_events(
            connection.connection_id,
            record=events.record(subscribed, refused, missing_scopes, timefmt.iso_z(now)),
            now=timefmt.iso_z(now),
            generation=connection.token_generation,
        )

    def _request(self, connection: Connection, gap: Gap | None, now: datetime) -> None:
        """Ask for a reconcile of ``gap`` unless it was asked for already (or, with no gap, send
        the one recorded unsent). A failure is recorded; the check goes on."""
        recorded = connection.gap_reconcile
        if gap is None:
            gap = Gap.unsent(recorded)
            if gap is None:
                return
        elif gap.already_requested(recorded):
            return
        else:
            gap = gap.merged(recorded)
        try:
            self.reconcile.request(connection.connection_id, since=gap.since, reason=gap.reason, requested_at=now)
            sent: datetime | None = now
            self.report_gap(connection, gap, None)
        except DependencyUnavailable as exc:  # the queue did not accept it
            reason, safe = failure_reason(exc)
            self._record(connection, "reconcile_request_failed", f"{reason}: {safe}")
            sent = None
            self.report_gap(connection, gap, f"{reason}: {safe}")
        try:
            self.registry.gap_reconcile(
                connection.connection_id,
                record=gap.record(requested_at=sent, noticed_at=now),
                now=timefmt.iso_z(now),
                generation=connection.token_generation,
            )
        except DependencyUnavailable as exc:  # sent but not recorded: the next run asks again
            self._record(connection, "aws_unavailable", str(exc))
