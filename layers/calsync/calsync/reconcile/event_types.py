"""The event types' reconcile: what ``GET /event_types`` lists for the organization, sent through
the normal intake queue as the ``event_type.updated`` deliveries Calendly would have sent.

The processor applies them version-aware (on the event type's ``updated_at``), so an unchanged
event type is a duplicate (the same API state gives the same body) and a newer stored one is
untouched; a change missed by the webhooks (a plan without them, a lost delivery) is repaired.
Each page is one call of the connection's budget (100 event types a page); the budget running
out, or Calendly refusing (a token without ``event_types:read``: 403), stops the pass with what
was sent, never the booking reconcile. Scheduled runs do it (default every 6 hours)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from calsync.calendly.errors import CalendlyError
from calsync.calendly.kinds import KindEvent
from calsync.calendly.models import EventType
from calsync.connections.budget import RateLimited
from calsync.intake.delivery import Delivery
from calsync.intake.envelopes import OtherEnvelope
from calsync.intake.receive import DeliveryQueue
from calsync.intake.routing import route
from calsync.reconcile.budget import OutOfBudget

logger = logging.getLogger("calsync")


class EventTypeLister(Protocol):
    def list_event_types(
        self, *, organization: str | None = None, user: str | None = None, active: bool | None = None
    ) -> Iterator[EventType]: ...


@dataclass(frozen=True, slots=True)
class EventTypesPass:
    sent: int  # event types sent to the queue (an unchanged one is acknowledged as a duplicate)
    stopped: str | None = None  # why it stopped before the end (the budget, Calendly's refusal)


def event_type_delivery(connection_id: str, resource: EventType, received_at: datetime) -> Delivery | None:
    """``event_type.updated`` for the event type as the API lists it (``None``: no time to order it by)."""
    stamp = resource.updated_at or resource.created_at
    if stamp is None:
        return None
    payload = resource.model_dump(mode="json", exclude_unset=True)
    envelope = OtherEnvelope(event=KindEvent.EVENT_TYPE_UPDATED.value, created_at=stamp, payload=payload)
    body = envelope.model_dump_json(exclude_unset=True).encode()
    return Delivery(
        connection_id=connection_id,
        received_at=received_at,
        body_sha256=hashlib.sha256(body).hexdigest(),
        event=envelope.event,
        body=body.decode(),
    )


def sync_event_types(
    calendly: EventTypeLister,
    queue: DeliveryQueue,
    *,
    connection_id: str,
    organization: str,
    now: Callable[[], datetime],
) -> EventTypesPass:
    sent = 0
    try:
        for resource in calendly.list_event_types(organization=organization):
            found = event_type_delivery(connection_id, resource, now())
            if found is not None:
                queue.send(route(found.event), found)
                sent += 1
    except OutOfBudget as exc:
        return EventTypesPass(sent, exc.reason)
    except RateLimited:  # the connection's minute is spent (a Free plan's 50): the next run lists them
        return EventTypesPass(sent, "rate budget")
    except CalendlyError as exc:
        logger.warning(
            "event types not reconciled: calendly refused",
            extra={"connection_id": connection_id, "status": exc.status, "title": exc.title},
        )
        return EventTypesPass(sent, f"calendly: {exc.status or ''} {exc.title}".replace("  ", " "))
    return EventTypesPass(sent)
