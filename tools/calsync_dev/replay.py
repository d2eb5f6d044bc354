"""Replay archived deliveries: re-enqueue the raw bodies calsync accepted (or quarantined)
in a window through the normal queues. Processing stays version-aware, so a replay changes
only what is missing and publishes lifecycle events only for real changes. Each replayed
message carries a replay id; processors count its outcome, so the operator sees how many
were applied, unchanged or quarantined."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from calsync.aws.views import StoredDelivery
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.intake.delivery import Delivery, DeliveryBodies
from calsync.intake.receive import DeliveryQueue
from calsync.intake.routing import route


@dataclass(frozen=True)
class Selection:
    since: datetime
    until: datetime
    connection_id: str | None = None
    event: str | None = None
    quarantined: bool = False


def _received(item: StoredDelivery) -> datetime | None:
    if not item.received_at:
        return None
    return datetime.fromisoformat(item.received_at.replace("Z", "+00:00"))


def select(repo: DynamoBookingsRepository, selection: Selection) -> list[StoredDelivery]:
    """The archived (or quarantined) deliveries received in the window that match the filters."""
    found = []
    for item in repo.archived(quarantined=selection.quarantined):
        at = _received(item)
        kept = item.body or item.body_key  # a large body is kept in the delivery-bodies bucket
        if at is None or not selection.since <= at <= selection.until or not kept or not item.event:
            continue
        if selection.connection_id and item.connection_id != selection.connection_id:
            continue
        if selection.event and item.event != selection.event:
            continue
        found.append(item)
    return found


def replay(
    items: Sequence[StoredDelivery],
    queue: DeliveryQueue,
    *,
    advance: Callable[[], None] = lambda: None,
    bodies: DeliveryBodies | None = None,
) -> tuple[str, int]:
    """Enqueue each item as the receiver would have (same body, hash and origin; a body kept in
    the delivery-bodies bucket read from there, and gone once the archive expires it); the
    replay id and how many were enqueued."""
    replay_id = uuid.uuid4().hex[:16]
    enqueued = 0
    for item in items:
        body = item.body
        if body is None and item.body_key and bodies is not None:
            found = bodies.get(item.body_key)
            body = found.decode() if found is not None else None
        if body is None:
            continue
        delivery = Delivery.model_validate(
            {
                "connection_id": item.connection_id or "unknown",
                "received_at": _received(item),
                "body_sha256": item.body_sha256,
                "event": item.event,
                "body": body,
                "replay_id": replay_id,
            }
        )
        queue.send(route(delivery.event), delivery)
        enqueued += 1
        advance()
    return replay_id, enqueued
