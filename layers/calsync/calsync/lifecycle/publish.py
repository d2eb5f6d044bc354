"""What the lifecycle functions run: one stored change in, its events on the bus and its
reminders in step; one fired reminder in, its event out. Raises ``DependencyUnavailable``
when the bus, the scheduler or the table failed, so the record is retried (at least once;
consumers deduplicate on ``event_id``, and schedule writes are idempotent).

A stream batch (``publish_changes``) puts the events of all its changes on the bus together,
in as few calls as the bus takes; a change whose events the bus refused, or whose reminders
or reads failed, is named so the stream retries from it (nothing after it is acknowledged)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from calsync.errors import DependencyUnavailable
from calsync.lifecycle.derive import Image, Images, announces, derive
from calsync.lifecycle.events import DetailType, LifecycleEvent
from calsync.lifecycle.reminders import Reminder, ReminderPlan, fire, late_ended, plan


class Bus(Protocol):
    def publish(self, events: Sequence[LifecycleEvent]) -> set[int]:
        """Put them on the bus in as few calls as it takes (refused entries sent again); the
        positions of those it still refused. Raises ``DependencyUnavailable`` if a call failed."""
        ...


def _on_the_bus(bus: Bus, events: Sequence[LifecycleEvent]) -> None:
    if refused := bus.publish(events):
        raise DependencyUnavailable(f"events:PutEvents refused {len(refused)} of {len(events)} entries")


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


@dataclass(frozen=True, slots=True)
class Change:
    """One stream record: ``key`` names it (the claimant of a reschedule, the failure to report)."""

    key: str
    old: Image | None
    new: Image | None


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    published: list[LifecycleEvent]  # on the bus (only from changes before ``failed``)
    scheduled: int
    dropped: int
    failed: str | None = None  # the first change not done: retry from it (and everything after)
    error: str | None = None  # why (an exception's type name, or the bus refusing entries)


def _prepare(
    change: Change,
    *,
    images: Images,
    schedules: Schedules,
    claims: Claims,
    leads: Sequence[int],
    now: datetime,
    ended_window: timedelta,
) -> tuple[list[LifecycleEvent], ReminderPlan]:
    events = [
        event
        for event in derive(change.old, change.new, images)
        if event.detail_type is not DetailType.BOOKING_RESCHEDULED
        or claims.claim_reschedule(str(event.detail["new"]["invitee_uri"]), event.event_id, claimant=change.key)
    ]
    reminders = plan(change.old, change.new, leads, now=now, ended_window=ended_window)
    events += [late_ended(reminder, change.new, images) for reminder in reminders.due if change.new]
    for reminder in reminders.put:
        schedules.put(reminder)
    for name in reminders.delete:
        schedules.delete(name)
    return events, reminders


def announced(changes: Sequence[Change]) -> list[str]:
    """The bookings these changes may announce (``Booking Scheduled``): ``derive`` reads each
    as it is now, to stay silent about one already rescheduled away."""
    return [str(c.new["uri"]) for c in changes if announces(c.old, c.new) and c.new and c.new.get("uri")]


def publish_changes(
    changes: Sequence[Change],
    *,
    images: Images,
    bus: Bus,
    schedules: Schedules,
    claims: Claims,
    leads: Sequence[int],
    now: datetime,
    ended_window: timedelta = timedelta(0),
) -> BatchOutcome:
    """A stream batch in order: each change's events derived and its reminders put in step,
    then every event put on the bus at once. A stream is retried from its first failed record,
    so the first change that fails stops the batch, and a change whose events the bus still
    refused fails there too (its earlier neighbours stay done). Events of later changes the bus
    took in the same calls are already out, so a retry sends them again after the refused one:
    consumers deduplicate on ``event_id`` and order a booking's events by ``booking.version``
    (EventBridge keeps no order between events anyway). A booking first stored less than
    ``ended_window`` after its end publishes its ``Booking Ended`` with it (``reminders.plan``)."""
    prepared: list[tuple[Change, list[LifecycleEvent]]] = []
    failed: tuple[int, str] | None = None
    scheduled = dropped = 0
    for position, change in enumerate(changes):
        try:
            events, reminders = _prepare(
                change,
                images=images,
                schedules=schedules,
                claims=claims,
                leads=leads,
                now=now,
                ended_window=ended_window,
            )
        except Exception as exc:  # reported for the retry, as a batch processor would: never swallowed
            failed = (position, type(exc).__name__)
            break
        prepared.append((change, events))
        scheduled += len(reminders.put)
        dropped += len(reminders.delete)
    flat = [(position, event) for position, (_, events) in enumerate(prepared) for event in events]
    try:
        refused = {flat[i][0] for i in bus.publish([event for _, event in flat])} if flat else set()
    except Exception as exc:  # nothing known to be on the bus: retry from the first change with events
        refused, error = {flat[0][0]}, type(exc).__name__
    else:
        error = "PutEvents refused entries"
    if refused and (failed is None or min(refused) < failed[0]):
        failed = (min(refused), error)
    done = len(prepared) if failed is None else failed[0]
    return BatchOutcome(
        [event for position, event in flat if position < done],
        scheduled,
        dropped,
        changes[failed[0]].key if failed else None,
        failed[1] if failed else None,
    )


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
    ended_window: timedelta = timedelta(0),
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
    reminders = plan(old, new, leads, now=now, ended_window=ended_window)
    events += [late_ended(reminder, new, images) for reminder in reminders.due if new]
    if events:
        _on_the_bus(bus, events)
    for reminder in reminders.put:
        schedules.put(reminder)
    for name in reminders.delete:
        schedules.delete(name)
    return Published(events, reminders)


def fire_reminder(payload: Mapping[str, Any], *, images: Images, bus: Bus) -> LifecycleEvent | None:
    event = fire(payload, images)
    if event is not None:
        _on_the_bus(bus, [event])
    return event
