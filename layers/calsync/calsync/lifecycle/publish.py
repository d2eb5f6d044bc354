"""What the lifecycle functions run: one stored change in, its events on the bus and its
reminders in step; one fired reminder in, its event out. Raises ``DependencyUnavailable``
when the bus, the scheduler or the table failed, so the record is retried (at least once;
consumers deduplicate on ``event_id``, and schedule writes are idempotent)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from calsync.lifecycle.derive import Image, Images, derive
from calsync.lifecycle.events import DetailType, LifecycleEvent
from calsync.lifecycle.reminders import Reminder, ReminderPlan, fire, plan


class Bus(Protocol):
    def publish(self, events: Sequence[LifecycleEvent]) -> None: ...


class Claims(Protocol):
    def claim_reschedule(self, new_invitee_uri: str, event_id: str, *, claimant: str) -> bool:
        """True if this change (``claimant``: the stream record) may publish the reschedule:
        the first to claim it, or the same record again (a retry)."""
        ...


class Schedules(Protocol):
    def put(self, reminder: Reminder) -> None: ...
    def delete(self, name: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Published:
    events: list[LifecycleEvent]
    reminders: ReminderPlan


def publish_change(
    old: Image | None,
    new: Image | None,
    *,
    images: Images,
    bus: Bus,
    schedules: Schedules,
    claims: Claims,
    claimant: str,
    leads: Sequence[int],
    now: datetime,
) -> Published:
    """``claimant`` names the change (the stream record's id). Both halves of a reschedule can
    complete the pair at once (their deliveries processed side by side): the first to claim
    it publishes, so there is one ``Booking Rescheduled``; a retry of that record still may."""
    events = [
        event
        for event in derive(old, new, images)
        if event.detail_type is not DetailType.BOOKING_RESCHEDULED
        or claims.claim_reschedule(str(event.detail["new"]["invitee_uri"]), event.event_id, claimant=claimant)
    ]
    if events:
        bus.publish(events)
    reminders = plan(old, new, leads, now=now)
    for reminder in reminders.put:
        schedules.put(reminder)
    for name in reminders.delete:
        schedules.delete(name)
    return Published(events, reminders)


def fire_reminder(payload: Mapping[str, Any], *, images: Images, bus: Bus) -> LifecycleEvent | None:
    event = fire(payload, images)
    if event is not None:
        bus.publish([event])
    return event
