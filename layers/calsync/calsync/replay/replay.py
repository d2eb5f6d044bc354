"""Replay kept deliveries: re-enqueue the raw bodies calsync accepted (or quarantined) in a
window through the normal queues — the operator use case behind ``calsync replay`` (and any
function that replays). Processing stays version-aware, so a replay changes only what is
missing and publishes lifecycle events only for real changes. Each replayed message carries a
replay id; processors count its outcome, so the operator sees how many were applied,
unchanged or quarantined."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from calsync import timefmt
from calsync.intake.delivery import Delivery, DeliveryBodies
from calsync.intake.receive import DeliveryQueue
from calsync.intake.routing import route
from calsync.replay.ports import Archive, KeptDelivery

OUTCOMES = ("applied", "unchanged", "quarantined", "erased")


@dataclass(frozen=True, slots=True)
class Replaying:
    """Where kept deliveries are read and where they go again (``compose.replaying`` builds it)."""

    archive: Archive
    queue: DeliveryQueue
    bodies: DeliveryBodies | None = None  # the delivery-bodies bucket, where one is configured


@dataclass(frozen=True)
class Selection:
    since: datetime
    until: datetime
    connection_id: str | None = None
    event: str | None = None
    quarantined: bool = False


def _received(item: KeptDelivery) -> datetime | None:
    if not item.received_at:
        return None
    return timefmt.parse(item.received_at)


def select(archive: Archive, selection: Selection) -> list[KeptDelivery]:
    """The archived (or quarantined) deliveries received in the window that match the filters."""
    found = []
    for item in archive.archived(quarantined=selection.quarantined):
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
    items: Sequence[KeptDelivery],
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


def outcome(
    archive: Archive,
    replay_id: str,
    enqueued: int,
    *,
    wait_seconds: float = 0.0,
    poll_seconds: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Counter[str]:
    """How the replay's deliveries were processed (``OUTCOMES``; a missing one counts 0), read
    again every ``poll_seconds`` for up to ``wait_seconds`` until every enqueued one is counted."""
    counts = Counter(archive.replay_counts(replay_id))
    deadline = clock() + wait_seconds
    while counts.total() < enqueued and clock() < deadline:
        sleep(poll_seconds)
        counts = Counter(archive.replay_counts(replay_id))
    return counts
