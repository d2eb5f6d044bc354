"""Gaps in webhook delivery and the reconcile each one asks for.

A gap starts at the first delivery that failed: Calendly's ``retry_started_at``; for a
disabled subscription without it, 24 h before it was disabled (Calendly retries for 24 h, then
disables); for a missing one, the last time the watchdog saw it healthy. The reconcile covers
meeting start times from that moment minus a margin (a booking made in the gap may start at any
later time, so the window is open-ended: ``until`` is the reconciler's own horizon).

What was requested is recorded on the connection (``gap_reconcile``), so the hourly watchdog asks
once per gap: again only when the start or the reason changes (a re-creation after retries is a
new reason: deliveries kept failing after the first request). A request that could not be sent is
recorded unsent and sent on the next run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from calsync import timefmt
from calsync.calendly.models import WebhookSubscription
from calsync.connections.records import Connection

CALENDLY_RETRY_WINDOW = timedelta(hours=24)  # retries before Calendly disables a subscription
UNKNOWN_START_LOOKBACK = timedelta(days=7)  # a missing subscription never seen healthy (see first_failure)


@dataclass(frozen=True, slots=True)
class Gap:
    since: datetime  # the margin already subtracted
    reason: str

    def record(self, *, requested_at: datetime | None, noticed_at: datetime) -> dict[str, Any]:
        return {
            "since": timefmt.iso_z(self.since),
            "reason": self.reason,
            "noticed_at": timefmt.iso_z(noticed_at),
            "requested_at": timefmt.iso_z(requested_at) if requested_at is not None else None,
        }

    def already_requested(self, recorded: dict[str, Any] | None) -> bool:
        """A request for this gap (same reason, reaching at least as far back) was sent."""
        return (
            recorded is not None
            and recorded.get("requested_at") is not None
            and recorded.get("reason") == self.reason
            and bool(recorded.get("since"))
            and timefmt.parse(recorded["since"]) <= self.since
        )

    def merged(self, recorded: dict[str, Any] | None) -> Gap:
        """This gap, reaching back to the start of a recorded one never sent (not to lose its past)."""
        earlier = Gap.unsent(recorded)
        return self if earlier is None or earlier.since >= self.since else Gap(earlier.since, self.reason)

    @classmethod
    def unsent(cls, recorded: dict[str, Any] | None) -> Gap | None:
        """The recorded gap whose request was never sent, if any."""
        if recorded is None or recorded.get("requested_at") is not None or not recorded.get("since"):
            return None
        return cls(timefmt.parse(recorded["since"]), str(recorded.get("reason", "")))


def retrying(started: datetime, margin: timedelta) -> Gap:
    return Gap(started - margin, f"Calendly retrying deliveries since {timefmt.iso_z(started)}")


def first_failure(connection: Connection, disabled: list[WebhookSubscription], now: datetime) -> datetime:
    """When deliveries to ``connection`` started failing, as well as can be known.

    Disabled subscriptions: the earliest ``retry_started_at``, else their ``updated_at`` (the
    moment of disabling) minus Calendly's 24 h of retries. Missing: the last time the watchdog
    saw ours healthy (``subscription_healthy_at``); a connection never seen healthy (recorded
    before calsync kept that) falls back to its latest re-creation or its creation, but not
    further back than ``UNKNOWN_START_LOOKBACK`` (the scheduled reconcile covers that past)."""
    starts = [
        s.retry_started_at
        or (s.updated_at - CALENDLY_RETRY_WINDOW if s.updated_at else None)
        or s.created_at
        or now - CALENDLY_RETRY_WINDOW
        for s in disabled
    ]
    if starts:
        return min(starts)
    if connection.subscription_healthy_at:
        return timefmt.parse(connection.subscription_healthy_at)
    known = [r.get("recreated_at") for r in connection.subscription_recreated] + [connection.created_at]
    latest = max((timefmt.parse(k) for k in known if k), default=now - UNKNOWN_START_LOOKBACK)
    return max(latest, now - UNKNOWN_START_LOOKBACK)


def recreated(problem: str, started: datetime, margin: timedelta) -> Gap:
    return Gap(
        started - margin, f"subscription re-created (was {problem}; deliveries failing since {timefmt.iso_z(started)})"
    )
