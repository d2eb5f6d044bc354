"""A stream batch: the events of all its changes on the bus together, the retry from the first failure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from calsync.errors import DependencyUnavailable
from calsync.lifecycle.events import LifecycleEvent
from calsync.lifecycle.publish import BatchOutcome, Change, publish_changes
from calsync.lifecycle.reminders import Reminder
from tests.unit.lifecycle.test_derive import API, Store, invitee

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


class Bus:
    def __init__(self, refuse: Sequence[int] = ()) -> None:
        self.calls: list[list[LifecycleEvent]] = []
        self.refuse = set(refuse)

    def publish(self, events: Sequence[LifecycleEvent]) -> set[int]:
        self.calls.append(list(events))
        return self.refuse & set(range(len(events)))


class Schedules:
    def __init__(self, failing: str | None = None) -> None:
        self.failing = failing
        self.put_names: list[str] = []

    def put(self, reminder: Reminder) -> None:
        if self.failing and reminder.invitee_uri == self.failing:
            raise DependencyUnavailable("scheduler:CreateSchedule failed: ThrottlingException")
        self.put_names.append(reminder.name)

    def delete(self, name: str) -> None:
        pass


class Claims:
    def claim_reschedule(self, new_invitee_uri: str, event_id: str, *, claimant: str) -> bool:
        return True


def bookings(count: int) -> list[Change]:
    return [Change(f"seq-{n}", None, invitee(f"{API}/scheduled_events/E{n}/invitees/I{n}")) for n in range(count)]


def run(changes: list[Change], bus: Bus, schedules: Schedules) -> BatchOutcome:
    return publish_changes(
        changes, images=Store(), bus=bus, schedules=schedules, claims=Claims(), leads=(3_600,), now=NOW
    )


def test_a_batch_puts_the_events_of_all_its_changes_on_the_bus_in_one_go() -> None:
    # Given three new bookings in one stream batch
    bus = Bus()
    # When the batch is published
    outcome = run(bookings(3), bus, Schedules())
    # Then the bus is asked once, with the three events, and nothing is left to retry
    assert [len(call) for call in bus.calls] == [3]
    assert outcome.failed is None
    assert len(outcome.published) == 3


def test_the_first_change_whose_reminders_failed_is_retried_with_everything_after_it() -> None:
    # Given the scheduler failing for the second of three bookings
    changes = bookings(3)
    bus = Bus()
    second = changes[1].new or {}
    outcome = run(changes, bus, Schedules(failing=str(second["uri"])))
    # Then the first booking's event is on the bus, and the stream retries from the second
    assert [len(call) for call in bus.calls] == [1]
    assert outcome.failed == "seq-1"
    assert outcome.error == "DependencyUnavailable"


def test_a_change_whose_event_the_bus_refused_is_not_acknowledged() -> None:
    # Given the bus refusing the second event of three
    outcome = run(bookings(3), Bus(refuse=[1]), Schedules())
    # Then the stream retries from the second change; only the first counts as published
    assert outcome.failed == "seq-1"
    assert [e.detail["booking"]["invitee_uri"] for e in outcome.published] == [f"{API}/scheduled_events/E0/invitees/I0"]
