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
from calsync.lifecycle.events import LifecycleEvent
from calsync.lifecycle.reminders import Reminder, ReminderPlan, fire, plan


class Bus(Protocol):
    def publish(self, events: Sequence[LifecycleEvent]) -> None: ...


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
    leads: Sequence[int],
    now: datetime,
) -> Published:
    events = derive(old, new, images)
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
