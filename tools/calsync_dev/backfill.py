"""Backfill a gap from Calendly's API: when a subscription was disabled or missing (the
watchdog records since when), deliveries were lost. This reads the organization's scheduled
events in a start-time window with their invitees, and enqueues, for each invitee, the
delivery Calendly would have sent for its current state (``invitee.created`` or
``invitee.canceled``, plus ``invitee_no_show.created`` when marked). The processors apply
them like any webhook: version-aware, so what is already stored and newer is untouched,
and running a backfill twice changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from calsync.calendly.client import CalendlyClient
from calsync.calendly.models import Invitee, ScheduledEvent
from calsync.webhooks.delivery import Delivery
from calsync.webhooks.receiver import DeliveryQueue
from calsync.webhooks.routing import route
from calsync_dev.events import delivery_for


@dataclass
class BackfillResult:
    events: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deliveries.values())


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value is not None else None


def envelopes(event: ScheduledEvent, invitee: Invitee) -> Iterator[dict[str, Any]]:
    """The webhook envelopes that describe ``invitee``'s current state."""
    payload = invitee.model_dump(mode="json", exclude_none=True)
    payload["scheduled_event"] = event.model_dump(mode="json", exclude_none=True)
    stamp = _iso(invitee.updated_at or invitee.created_at)
    kind = "invitee.canceled" if invitee.status == "canceled" else "invitee.created"
    yield {"event": kind, "created_at": stamp, "payload": payload}
    if invitee.no_show is not None:
        yield {
            "event": "invitee_no_show.created",
            "created_at": _iso(invitee.no_show.created_at) or stamp,
            "payload": payload,
        }


def delivery(connection_id: str, envelope: dict[str, Any], received_at: datetime) -> Delivery:
    """Canonical JSON, so the same state always gives the same body (and archive key)."""
    body = json.dumps(envelope, sort_keys=True, separators=(",", ":")).encode()
    return delivery_for(body, connection_id=connection_id, received_at=received_at)


def backfill(
    calendly: CalendlyClient,
    queue: DeliveryQueue,
    *,
    connection_id: str,
    organization: str,
    since: datetime,
    until: datetime,
    now: datetime,
) -> BackfillResult:
    result = BackfillResult()
    for event in calendly.list_scheduled_events(organization=organization, min_start_time=since, max_start_time=until):
        result.events += 1
        for invitee in calendly.list_event_invitees(str(event.uri)):
            for envelope in envelopes(event, invitee):
                queue.send(route(envelope["event"]), delivery(connection_id, envelope, now))
                result.deliveries[envelope["event"]] = result.deliveries.get(envelope["event"], 0) + 1
    return result
