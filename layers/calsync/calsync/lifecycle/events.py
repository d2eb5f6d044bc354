"""The lifecycle events calsync publishes: their detail-types, ids and envelope.

Every event is ``source: calsync`` with one ``detail-type`` per kind of change. ``event_id``
is derived from what changed (never from when it was seen), so the same change published
twice carries the same id and consumers can deduplicate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SOURCE = "calsync"
SCHEMA_VERSION = "2"


class DetailType(StrEnum):
    BOOKING_SCHEDULED = "Booking Scheduled"
    BOOKING_RESCHEDULED = "Booking Rescheduled"
    BOOKING_CANCELED = "Booking Canceled"
    NO_SHOW_MARKED = "Invitee No-Show Marked"
    NO_SHOW_CLEARED = "Invitee No-Show Cleared"
    ROUTING_FORM_SUBMITTED = "Routing Form Submitted"
    BOOKING_STARTING_SOON = "Booking Starting Soon"
    BOOKING_ENDED = "Booking Ended"
    INVITEE_ERASED = "Invitee Erased"
    EVENT_TYPE_CHANGED = "Event Type Changed"
    MEETING_RECAP_READY = "Meeting Recap Ready"

    @property
    def slug(self) -> str:
        """``Invitee No-Show Marked`` → ``invitee-no-show-marked`` (schema file names)."""
        return self.value.lower().replace(" ", "-")


def event_id(detail_type: DetailType, *parts: object) -> str:
    """Stable id of one change: the same detail-type and parts always give the same id."""
    text = "\x1f".join([detail_type.value, *(str(part) for part in parts)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    detail_type: DetailType
    event_id: str
    detail: dict[str, Any]

    @property
    def connection_id(self) -> str | None:
        value = self.detail.get("connection_id")
        return value if isinstance(value, str) else None
