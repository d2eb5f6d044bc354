"""A stream batch: the events of all its changes on the bus together, the retry from the first failure."""

from __future__ import annotations

from datetime import UTC, datetime

from calsync.lifecycle.publish import BatchOutcome, Change, publish_changes
from tests.fakes.lifecycle import FakeBus, FakeImages, FakeSchedules
from tests.unit.lifecycle.test_derive import API, invitee

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def bookings(count: int) -> list[Change]:
    return [Change(f"seq-{n}", None, invitee(f"{API}/scheduled_events/E{n}/invitees/I{n}")) for n in range(count)]


def run(changes: list[Change], bus: FakeBus, schedules: FakeSchedules) -> BatchOutcome:
    return publish_changes(
        changes, images=FakeImages(), bus=bus, schedules=schedules, claims=FakeImages(), leads=(3_600,), now=NOW
    )


def test_a_batch_puts_the_events_of_all_its_changes_on_the_bus_in_one_go() -> None:
    # Given three new bookings in one stream batch
    bus = FakeBus()
    # When the batch is published
    outcome = run(bookings(3), bus, FakeSchedules())
    # Then the bus is asked once, with the three events, and nothing is left to retry
    assert [len(call) for call in bus.calls] == [3]
    assert outcome.failed is None
    assert len(outcome.published) == 3


def test_the_first_change_whose_reminders_failed_is_retried_with_everything_after_it() -> None:
    # Given the scheduler failing for the second of three bookings
    changes = bookings(3)
    bus = FakeBus()
    second = changes[1].new or {}
    outcome = run(changes, bus, FakeSchedules(failing=str(second["uri"])))
    # Then the first booking's event is on the bus, and the stream retries from the second
    assert [len(call) for call in bus.calls] == [1]
    assert outcome.failed == "seq-1"
    assert outcome.error == "DependencyUnavailable"


def test_a_change_whose_event_the_bus_refused_is_not_acknowledged() -> None:
    # Given the bus refusing the second event of three
    outcome = run(bookings(3), FakeBus(refuse=[1]), FakeSchedules())
    # Then the stream retries from the second change; only the first counts as published
    assert outcome.failed == "seq-1"
    assert [e.detail["booking"]["invitee_uri"] for e in outcome.published] == [f"{API}/scheduled_events/E0/invitees/I0"]
