"""Backfill a gap from Calendly's API: when a subscription was disabled or missing (the
watchdog records since when), deliveries were lost. This reads the organization's scheduled
events in a start-time window with their invitees, and enqueues, for each invitee, the
delivery Calendly would have sent for its current state (``invitee.created`` or
``invitee.canceled``, plus ``invitee_no_show.created`` when marked and
``invitee_no_show.deleted`` when not, so a mark removed during the gap is cleared). The
processors apply them like any webhook: version-aware, so what is already stored and newer
is untouched, and running a backfill twice changes nothing.

A no-show change is ordered by its envelope's ``created_at`` (when Calendly made the
change). The removal a backfill sends is dated at the invitee's ``updated_at`` as the API
read it: a mark stored from before the read and gone at the read is older, so it is
cleared; a mark made after the read is newer, so it stands. The same API state gives the
same body, so a second backfill is a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from calsync.calendly.client import CalendlyClient
from calsync.calendly.models import Invitee, ScheduledEvent, WebhookEvent
from calsync.webhooks.delivery import Delivery
from calsync.webhooks.models import InviteeEnvelope, InviteePayload, NoShowEnvelope
from calsync.webhooks.receiver import DeliveryQueue
from calsync.webhooks.routing import route
from calsync_dev.events import delivery_for


@dataclass
class BackfillResult:
    events: int = 0
    deliveries: dict[str, int] = field(default_factory=dict)
    skipped: int = 0  # invitees without any timestamp to order them by

    @property
    def total(self) -> int:
        return sum(self.deliveries.values())


def envelopes(event: ScheduledEvent, invitee: Invitee) -> Iterator[InviteeEnvelope | NoShowEnvelope]:
    """The webhook deliveries that describe ``invitee``'s current state (none when the API
    gives no time to order them by)."""
    stamp = invitee.updated_at or invitee.created_at
    if stamp is None:
        return
    payload = InviteePayload.model_validate({**dict(invitee), "updated_at": stamp, "scheduled_event": event})
    if invitee.status == "canceled":
        yield InviteeEnvelope(event=WebhookEvent.INVITEE_CANCELED, created_at=stamp, payload=payload)
    else:
        yield InviteeEnvelope(event=WebhookEvent.INVITEE_CREATED, created_at=stamp, payload=payload)
    if invitee.no_show is not None:
        marked_at = invitee.no_show.created_at or stamp
        yield NoShowEnvelope(event=WebhookEvent.INVITEE_NO_SHOW_CREATED, created_at=marked_at, payload=payload)
    else:
        yield NoShowEnvelope(event=WebhookEvent.INVITEE_NO_SHOW_DELETED, created_at=stamp, payload=payload)


def delivery(connection_id: str, envelope: InviteeEnvelope | NoShowEnvelope, received_at: datetime) -> Delivery:
    """The same state always gives the same body (and so the same archive key)."""
    body = envelope.model_dump_json(exclude_none=True).encode()
    return delivery_for(body, connection_id=connection_id, received_at=received_at)


class BackfillProgress(Protocol):
    def advance(self, n: int = 1) -> None: ...
    def note(self, **counts: object) -> None: ...


def backfill(
    calendly: CalendlyClient,
    queue: DeliveryQueue,
    *,
    connection_id: str,
    organization: str,
    since: datetime,
    until: datetime,
    now: datetime,
    progress: BackfillProgress | None = None,
) -> BackfillResult:
    """Enqueue the deliveries; ``progress`` (if given) is told each one and the running counts."""
    result = BackfillResult()
    for event in calendly.list_scheduled_events(organization=organization, min_start_time=since, max_start_time=until):
        result.events += 1
        for invitee in calendly.list_event_invitees(str(event.uri)):
            sent = 0
            for envelope in envelopes(event, invitee):
                queue.send(route(envelope.event), delivery(connection_id, envelope, now))
                name = str(envelope.event)
                result.deliveries[name] = result.deliveries.get(name, 0) + 1
                sent += 1
                if progress is not None:
                    progress.advance()
            result.skipped += sent == 0
        if progress is not None:
            progress.note(events=result.events, skipped=result.skipped)
    return result
