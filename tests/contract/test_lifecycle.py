"""The lifecycle's ports: FakeImages / TableImages, FakeLedger / DynamoLedger, FakeBus /
EventBridgePublisher and FakeSchedules / SchedulerReminders (moto) behave alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.aws import keys
from calsync.errors import DependencyUnavailable
from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
from calsync.lifecycle.aws_ledger import DynamoLedger
from calsync.lifecycle.aws_scheduler import SchedulerReminders
from calsync.lifecycle.aws_stream import TableImages
from calsync.lifecycle.events import SOURCE, DetailType, LifecycleEvent, event_id
from calsync.lifecycle.once import Claim, Ledger
from calsync.lifecycle.publish import Bus, Schedules
from calsync.lifecycle.reminders import Reminder
from tests.contract.conftest import TABLE, MotoTable, moto_client
from tests.fakes.lifecycle import FakeBus, FakeImages, FakeLedger, FakeSchedules
from tests.fakes.table import MemoryTable

API = "https://api.calendly.com"
INVITEE = f"{API}/scheduled_events/E1/invitees/I1"
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)


# -- Images and Claims ---------------------------------------------------------------------


@pytest.fixture
def images(table: MemoryTable | MotoTable) -> FakeImages | TableImages:
    return FakeImages(table) if isinstance(table, MemoryTable) else TableImages(TABLE, table.client)


def test_related_items_are_read_as_stored_without_their_keys(
    images: FakeImages | TableImages, table: MemoryTable | MotoTable
) -> None:
    # Given an invitee and its scheduled event stored
    table.put(keys.invitee("E1", "I1"), {"type": "invitee", "uri": INVITEE, "status": "active", "n": 2})
    table.put(keys.event("E1"), {"type": "event", "name": "Demo", "memberships": [{"user": "U1"}]})
    # Then they are read back by URI, as the stream carries them; what is not stored is None
    assert images.invitee(INVITEE) == {"type": "invitee", "uri": INVITEE, "status": "active", "n": 2}
    assert images.scheduled_event(f"{API}/scheduled_events/E1") == {
        "type": "event",
        "name": "Demo",
        "memberships": [{"user": "U1"}],
    }
    assert images.invitee(f"{API}/scheduled_events/E1/invitees/I9") is None
    assert images.invitee("not a uri") is None
    assert images.scheduled_event(f"{API}/scheduled_events/E9") is None


def test_a_reschedule_is_claimed_by_the_first_record_and_again_by_the_same_one(
    images: FakeImages | TableImages, table: MemoryTable | MotoTable
) -> None:
    # Given the new booking of a reschedule stored
    table.put(keys.invitee("E1", "I1"), {"type": "invitee", "uri": INVITEE})
    # When two stream records claim its announcement
    assert images.claim_reschedule(INVITEE, "ev1", claimant="record-1") is True
    assert images.claim_reschedule(INVITEE, "ev1", claimant="record-2") is False
    # Then only the first publishes; its retry may publish again
    assert images.claim_reschedule(INVITEE, "ev1", claimant="record-1") is True
    stored = table.item(keys.invitee("E1", "I1")) or {}
    assert (stored["reschedule_event"], stored["reschedule_claimant"]) == ("ev1", "record-1")
    # And a URI that names no invitee has nothing to claim
    assert images.claim_reschedule("not a uri", "ev2", claimant="record-2") is True


# -- a consumer's ledger -------------------------------------------------------------------------


@pytest.fixture
def ledger(table: MemoryTable | MotoTable) -> Ledger:
    return FakeLedger("slack", table) if isinstance(table, MemoryTable) else DynamoLedger(TABLE, "slack", table.client)


def test_an_event_is_claimed_once_and_a_sent_one_is_a_copy(ledger: Ledger, table: MemoryTable | MotoTable) -> None:
    # Given message m1 claims the event
    assert ledger.claim("ev1", claimant="m1", now=NOW) is Claim.TAKEN
    # Then another message is held while the lease runs, m1's own retry takes it again
    assert ledger.claim("ev1", claimant="m2", now=NOW + timedelta(seconds=30)) is Claim.HELD
    assert ledger.claim("ev1", claimant="m1", now=NOW + timedelta(seconds=30)) is Claim.TAKEN
    # When it is confirmed sent, every later claim is a copy
    ledger.confirm("ev1", claimant="m1")
    assert ledger.claim("ev1", claimant="m2", now=NOW + timedelta(days=1)) is Claim.SENT
    assert ledger.claim("ev1", claimant="m1", now=NOW) is Claim.SENT
    stored = table.item(keys.consumed("slack", "ev1")) or {}
    assert (stored["state"], stored["claimant"], stored["copies"], "lease_until" in stored) == ("sent", "m1", 2, False)


def test_a_claim_past_its_lease_is_taken_over(ledger: Ledger) -> None:
    assert ledger.claim("ev1", claimant="m1", now=NOW) is Claim.TAKEN
    assert ledger.claim("ev1", claimant="m2", now=NOW + timedelta(minutes=5)) is Claim.TAKEN
    # And the first claimant's late release leaves the new claim alone
    ledger.release("ev1", claimant="m1")
    assert ledger.claim("ev1", claimant="m3", now=NOW + timedelta(minutes=5)) is Claim.HELD


def test_a_released_claim_frees_the_event_but_a_sent_one_stays_sent(
    ledger: Ledger, table: MemoryTable | MotoTable
) -> None:
    assert ledger.claim("ev1", claimant="m1", now=NOW) is Claim.TAKEN
    ledger.release("ev1", claimant="m1")
    assert table.item(keys.consumed("slack", "ev1")) is None
    assert ledger.claim("ev1", claimant="m2", now=NOW) is Claim.TAKEN
    ledger.confirm("ev1", claimant="m2")
    ledger.release("ev1", claimant="m2")
    assert ledger.claim("ev1", claimant="m3", now=NOW) is Claim.SENT
    # And confirming a claim that is gone writes nothing
    ledger.confirm("ev9", claimant="m1")
    assert table.item(keys.consumed("slack", "ev9")) is None


# -- the bus ---------------------------------------------------------------------------------


@dataclass
class Subject:
    bus: Bus
    published: Callable[[], list[tuple[str, dict[str, Any]]]]


def bus_subject(backend: str, request: pytest.FixtureRequest, *, bus_name: str = "calsync-test") -> Subject:
    if backend == "fake":
        fake = FakeBus()
        fake.fail = bus_name != "calsync-test"
        return Subject(fake, lambda: [(e.detail_type.value, e.detail) for e in fake.published])
    events, sqs = moto_client("events", request), moto_client("sqs", request)
    events.create_event_bus(Name="calsync-test")
    url = sqs.create_queue(QueueName="seen")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="all", EventBusName="calsync-test", EventPattern=json.dumps({"source": [SOURCE]}))
    events.put_targets(Rule="all", EventBusName="calsync-test", Targets=[{"Id": "q", "Arn": arn}])

    def published() -> list[tuple[str, dict[str, Any]]]:
        found = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                event = json.loads(message["Body"])
                assert event["source"] == SOURCE
                found.append((event["detail-type"], event["detail"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return found

    return Subject(EventBridgePublisher(bus_name, events), published)


def lifecycle_event(n: int) -> LifecycleEvent:
    the_id = event_id(DetailType.BOOKING_SCHEDULED, n)
    return LifecycleEvent(DetailType.BOOKING_SCHEDULED, the_id, {"event_id": the_id, "n": n, "é": "✓"})


def test_every_event_published_is_on_the_bus_once_with_its_detail(backend: str, request: pytest.FixtureRequest) -> None:
    subject = bus_subject(backend, request)
    # When more events than one PutEvents call takes are published
    events = [lifecycle_event(n) for n in range(23)]
    assert subject.bus.publish(events) == set()
    # Then each is on the bus once, with its detail type and detail
    seen = sorted(subject.published(), key=lambda pair: pair[1]["n"])
    assert seen == [(e.detail_type.value, e.detail) for e in events]


def test_a_bus_that_cannot_be_reached_is_a_dependency_failure(backend: str, request: pytest.FixtureRequest) -> None:
    subject = bus_subject(backend, request, bus_name="gone")
    with pytest.raises(DependencyUnavailable):
        subject.bus.publish([lifecycle_event(1)])


# -- reminders -----------------------------------------------------------------------------------


@dataclass
class Reminders:
    schedules: Schedules
    scheduled: Callable[[], dict[str, tuple[datetime, dict[str, Any]]]]


@pytest.fixture
def reminders(backend: str, request: pytest.FixtureRequest) -> Reminders:
    if backend == "fake":
        fake = FakeSchedules()
        return Reminders(
            fake,
            lambda: {n: (r.at.replace(microsecond=0), r.payload()) for n, r in fake.schedules.items()},
        )
    scheduler = moto_client("scheduler", request)
    scheduler.create_schedule_group(Name="reminders")
    adapter = SchedulerReminders("reminders", "arn:aws:lambda:us-east-1:123456789012:function:r", "arn:role", scheduler)

    def scheduled() -> dict[str, tuple[datetime, dict[str, Any]]]:
        found = {}
        for summary in scheduler.list_schedules(GroupName="reminders")["Schedules"]:
            schedule = scheduler.get_schedule(Name=summary["Name"], GroupName="reminders")
            at = datetime.strptime(schedule["ScheduleExpression"], "at(%Y-%m-%dT%H:%M:%S)").replace(tzinfo=UTC)
            found[summary["Name"]] = (at, json.loads(schedule["Target"]["Input"]))
        return found

    return Reminders(adapter, scheduled)


def reminder(at: datetime) -> Reminder:
    return Reminder("soon-I1-3600", at, DetailType.BOOKING_STARTING_SOON, INVITEE, "2026-12-02T10:00:00Z", 3600)


def test_a_reminder_is_scheduled_moved_and_dropped_by_name(reminders: Reminders) -> None:
    # When a reminder is put, then put again for another time (the booking moved)
    reminders.schedules.put(reminder(datetime(2026, 12, 2, 9, tzinfo=UTC)))
    moved = reminder(datetime(2026, 12, 3, 9, 0, 0, 500, tzinfo=UTC))
    reminders.schedules.put(moved)
    # Then one schedule of that name fires at the new time (whole seconds) with the reminder's payload
    assert reminders.scheduled() == {"soon-I1-3600": (datetime(2026, 12, 3, 9, tzinfo=UTC), moved.payload())}
    # And once deleted (again: already gone is fine) there is none
    reminders.schedules.delete("soon-I1-3600")
    reminders.schedules.delete("soon-I1-3600")
    assert reminders.scheduled() == {}
