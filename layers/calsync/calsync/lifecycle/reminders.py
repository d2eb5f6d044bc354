"""Reminders: ``Booking Starting Soon`` at each lead time before a booking starts and
``Booking Ended`` at its end, for bookings still active then.

Which reminders a stored booking should have is a function of its image, so the publisher
keeps one-time schedules in step with the table: created when a booking appears, dropped
when it is canceled or rescheduled away (a reschedule is a new invitee with its own), moved
if its times change. When a reminder fires, the booking is read again and the event is
published only if it is still active at the same time (a late or stale schedule says nothing).

A booking first stored after its end (a late webhook, a reconcile or backfill repair) has no
reminder left to schedule. Its ``Booking Ended`` is due at once when the end lies within a window
(``ended_window``, by default the reconciler's recent days), with the id the scheduled reminder
would have carried; an older end publishes nothing (a backfill does not flood consumers), and a
``Starting Soon`` already past is never published.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from calsync import timefmt
from calsync.lifecycle.derive import Image, Images, booking, current_name
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


def wanted(image: Image | None, leads: Sequence[int]) -> dict[str, Reminder]:
    """The reminders a stored booking should have now (none unless active with known times)."""
    if not image or image.get("type") != "invitee" or image.get("status") != "active" or image.get("rescheduled_to"):
        return {}  # not active, or rescheduled away (the new booking has its own reminders)
    uri, start_text = image.get("uri"), image.get("start_time")
    match = _INVITEE_UUID.search(uri) if isinstance(uri, str) else None
    start, end = timefmt.parse_optional(start_text), timefmt.parse_optional(image.get("end_time"))
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
    due: list[Reminder] = field(default_factory=list)  # to publish now: a recent end, first known after it


def plan(
    old: Image | None,
    new: Image | None,
    leads: Sequence[int],
    *,
    now: datetime,
    ended_window: timedelta = timedelta(0),
) -> ReminderPlan:
    """What to change in the schedules for one stored change (nothing when nothing moved), and
    the ``Booking Ended`` due at once: a booking whose end reminder is new (first stored, or its
    end first known) while its end already passed, less than ``ended_window`` ago."""
    before, after = wanted(old, leads), wanted(new, leads)
    put = [r for name, r in sorted(after.items()) if before.get(name) != r and r.at > now]
    delete = sorted(name for name in before if name not in after)
    due = [
        r
        for name, r in sorted(after.items())
        if name not in before and r.detail_type is DetailType.BOOKING_ENDED and r.at <= now < r.at + ended_window
    ]
    return ReminderPlan(put, delete, due)


def _event(
    detail_type: DetailType, uri: str, start: str, lead: object, invitee: Image, images: Images
) -> LifecycleEvent:
    event_uri = invitee.get("event_uri")
    event = images.scheduled_event(event_uri) if isinstance(event_uri, str) else None
    eid = event_id(detail_type, uri, start, lead)
    detail = {
        "schema_version": SCHEMA_VERSION,
        "event_id": eid,
        "connection_id": invitee.get("tenant"),
        "booking": booking(invitee, event, current_name(invitee, event, images)),
        "lead_seconds": lead if isinstance(lead, int) else None,
    }
    return LifecycleEvent(detail_type, eid, detail)


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
        or not isinstance(uri, str)
        or not isinstance(start, str)
    ):
        return None
    return _event(detail_type, uri, start, payload.get("lead_seconds"), invitee, images)


def late_ended(reminder: Reminder, invitee: Image, images: Images) -> LifecycleEvent:
    """The event of a reminder ``plan`` found due at once, from the image just stored: the same
    event (and ``event_id``) the reminder would have published had it been scheduled and fired."""
    return _event(
        reminder.detail_type, reminder.invitee_uri, reminder.start_time, reminder.lead_seconds, invitee, images
    )
