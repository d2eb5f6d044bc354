"""Reminders: ``Booking Starting Soon`` at each lead time before a booking starts and
``Booking Ended`` at its end, for bookings still active then.

Which reminders a stored booking should have is a function of its image, so the publisher
keeps one-time schedules in step with the table: created when a booking appears, dropped
when it is canceled or rescheduled away (a reschedule is a new invitee with its own), moved
if its times change. When a reminder fires, the booking is read again and the event is
published only if it is still active at the same time (a late or stale schedule says nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync.lifecycle.derive import Image, Images, booking
from calsync.lifecycle.events import SCHEMA_VERSION, DetailType, LifecycleEvent, event_id

_INVITEE_UUID = re.compile(r"/invitees/([^/?#]+)/?$")
_SAFE = re.compile(r"[^0-9A-Za-z_.-]")


@dataclass(frozen=True, slots=True)
class Reminder:
    """One reminder to fire at ``at`` (UTC); ``name`` is stable for a booking and kind."""

    name: str
    at: datetime
    detail_type: DetailType
    invitee_uri: str
    start_time: str
    lead_seconds: int | None = None

    def payload(self) -> dict[str, Any]:
        """What the schedule hands back when it fires."""
        return {
            "detail_type": self.detail_type.value,
            "invitee_uri": self.invitee_uri,
            "start_time": self.start_time,
            "lead_seconds": self.lead_seconds,
        }


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def wanted(image: Image | None, leads: Sequence[int]) -> dict[str, Reminder]:
    """The reminders a stored booking should have now (none unless active with known times)."""
    if not image or image.get("type") != "invitee" or image.get("status") != "active" or image.get("rescheduled_to"):
        return {}  # not active, or rescheduled away (the new booking has its own reminders)
    uri, start_text = image.get("uri"), image.get("start_time")
    match = _INVITEE_UUID.search(uri) if isinstance(uri, str) else None
    start, end = _time(start_text), _time(image.get("end_time"))
    if match is None or start is None or not isinstance(uri, str) or not isinstance(start_text, str):
        return {}
    base = _SAFE.sub("_", match.group(1))[:48]
    found = {
        f"{base}-soon-{lead}": Reminder(
            f"{base}-soon-{lead}",
            start - timedelta(seconds=lead),
            DetailType.BOOKING_STARTING_SOON,
            uri,
            start_text,
            lead,
        )
        for lead in leads
    }
    if end is not None:
        found[f"{base}-ended"] = Reminder(f"{base}-ended", end, DetailType.BOOKING_ENDED, uri, start_text)
    return found


@dataclass(frozen=True, slots=True)
class ReminderPlan:
    put: list[Reminder]  # create, or move to a new time
    delete: list[str]  # names of reminders the booking no longer wants


def plan(old: Image | None, new: Image | None, leads: Sequence[int], *, now: datetime) -> ReminderPlan:
    """What to change in the schedules for one stored change (nothing when nothing moved)."""
    before, after = wanted(old, leads), wanted(new, leads)
    put = [r for name, r in sorted(after.items()) if before.get(name) != r and r.at > now]
    delete = sorted(name for name in before if name not in after)
    return ReminderPlan(put, delete)


def fire(payload: Mapping[str, Any], images: Images) -> LifecycleEvent | None:
    """The event a fired reminder means, or None when the booking moved, ended or is gone."""
    uri, start = payload.get("invitee_uri"), payload.get("start_time")
    detail_type = DetailType(str(payload.get("detail_type")))
    invitee = images.invitee(uri) if isinstance(uri, str) else None
    if (
        invitee is None
        or invitee.get("status") != "active"
        or invitee.get("rescheduled_to")
        or invitee.get("start_time") != start
    ):
        return None
    event_uri = invitee.get("event_uri")
    lead = payload.get("lead_seconds")
    eid = event_id(detail_type, uri, start, lead)
    detail = {
        "schema_version": SCHEMA_VERSION,
        "event_id": eid,
        "connection_id": invitee.get("tenant"),
        "booking": booking(invitee, images.scheduled_event(event_uri) if isinstance(event_uri, str) else None),
        "lead_seconds": lead if isinstance(lead, int) else None,
    }
    return LifecycleEvent(detail_type, eid, detail)
