"""What was stored before the lake existed → lake records (the backfill's domain part, pure).

A stored item (an invitee, a routing-form submission, an erasure's tombstone) lands as the
lifecycle events its current state means, derived by the publisher's own rules
(``calsync.lifecycle.derive``: as if the item had just appeared), then mapped by
``record.lake_records``: the same record shape, event ids and versions the lake gets from the
live events, and no personal data. The metrics keep each booking's latest version, so a
backfilled record and a live one of the same state count once, and writing the backfill again
changes nothing.

Each event's time (``occurred_at``, hence its ``dt`` partition) is read from the item, never
the clock, so a re-run writes the same records: a booking's creation, a cancellation's
time, a no-show mark's time, a submission's creation, an erasure's time (else the item's
``updated_at`` or ``created_at``). A booking's Calendly creation time is kept as its
``created_at`` (a live ``Booking Canceled`` lacks it; a backfilled booking may have no other record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from calsync import timefmt
from calsync.analytics.record import LakeRecord, lake_records
from calsync.lifecycle.derive import Image, Images, derive
from calsync.lifecycle.events import DetailType, LifecycleEvent

ITEM_TYPES = frozenset({"invitee", "routing_form_submission", "tombstone"})  # what lands; the rest: nothing


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _first(*values: object) -> datetime | None:
    return next((at for value in values if (at := timefmt.parse_optional(value, naive_is_utc=False)) is not None), None)


def occurred_at(event: LifecycleEvent, item: Image, images: Images) -> datetime | None:
    """When the change ``event`` stands for happened, as the stored item tells it."""
    fallback = (item.get("updated_at"), item.get("created_at"))  # never the start: it may lie ahead
    match event.detail_type:
        case DetailType.BOOKING_SCHEDULED:
            return _first(item.get("created_at"), *fallback)
        case DetailType.BOOKING_CANCELED:
            return _first(_map(item.get("cancellation")).get("created_at"), *fallback)
        case DetailType.BOOKING_RESCHEDULED:  # the new booking's creation
            new = images.invitee(str(_map(event.detail.get("new")).get("invitee_uri")))
            return _first((new or {}).get("created_at"), item.get("created_at"), *fallback)
        case DetailType.NO_SHOW_MARKED:
            return _first(_map(item.get("no_show")).get("created_at"), *fallback)
        case DetailType.INVITEE_ERASED:
            return _first(item.get("erased_at"))
        case _:
            return _first(*fallback)


def _announced_here(event: LifecycleEvent, item: Image) -> bool:
    """A reschedule is derived from both its halves: only the new half lands it (once)."""
    if event.detail_type is not DetailType.BOOKING_RESCHEDULED:
        return True
    return bool(_map(event.detail.get("new")).get("invitee_uri") == item.get("uri"))


class KnownFirst:
    """``Images`` answering from items already in hand (a scan page) before asking ``rest``."""

    def __init__(self, items: Iterable[Image], rest: Images) -> None:
        self._invitees = {item["uri"]: item for item in items if item.get("type") == "invitee" and item.get("uri")}
        self._rest = rest

    def invitee(self, uri: str) -> Image | None:
        return self._invitees.get(uri) or self._rest.invitee(uri)

    def scheduled_event(self, uri: str) -> Image | None:
        return self._rest.scheduled_event(uri)

    def event_type(self, tenant: str, uri: str) -> Image | None:
        return self._rest.event_type(tenant, uri)


def stored_records(item: Image, images: Images) -> list[LakeRecord]:
    """The lake records one stored item lands as (``item``: its attributes as plain JSON values,
    table keys removed; ``images`` reads the related items: its scheduled event, the other half
    of a reschedule, a submission's booking). Nothing for an item of another type, or for one
    whose events carry no time."""
    if item.get("type") not in ITEM_TYPES:
        return []
    records: list[LakeRecord] = []
    created = (
        timefmt.parse_optional(item.get("created_at"), naive_is_utc=False) if item.get("type") == "invitee" else None
    )
    own = str(item.get("uri") or "").rstrip("/").rsplit("/", 1)[-1] or None
    for event in derive(None, item, images):
        at = occurred_at(event, item, images)
        if at is None or not _announced_here(event, item):
            continue
        for record in lake_records(event, at):
            mine = record.invitee_uuid == own and record.kind != DetailType.ROUTING_FORM_SUBMITTED
            if created is not None and mine and (record.created_at is None or record.created_at > created):
                record = record.model_copy(update={"created_at": created})
            records.append(record)
    return records
