"""Lifecycle events end to end on moto: deliveries through the receiver and processors, the
table's stream through the publisher, events on the bus (captured by a rule → queue). Which
events a stored change means is tested in memory, on the fakes (tests/unit/lifecycle/test_lifecycle.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import boto3
import jsonschema
import pytest

from calsync.errors import DependencyUnavailable
from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
from calsync_dev.events import SAMPLES_NOW
from calsync_dev.lambda_runtime import LambdaContext, load_handler, set_clock
from calsync_dev.provision import Stack
from calsync_dev.schemas import schema_path
from calsync_dev.streams import StreamEventSource
from tests.factories import event_body, vary
from tests.integration.conftest import Pipeline

STREAMS_ENDPOINT = "https://streams.dynamodb.us-east-1.amazonaws.com"  # moto in-process (ENVIRONMENT.md)


class Lifecycle:
    def __init__(self, pipeline: Pipeline, now: datetime = SAMPLES_NOW) -> None:
        stack = pipeline.stack
        self.pipeline = pipeline
        spec = stack.functions["LifecyclePublisherFunction"]
        self.env = spec.environment
        handler = load_handler(spec, apply_environment=False)
        set_clock(handler, now)  # by default the samples' meetings are ahead of it, whatever today's date is
        streams = boto3.client("dynamodbstreams", endpoint_url=STREAMS_ENDPOINT)
        self.failed: list[dict[str, Any]] = []
        self.source = StreamEventSource.from_event(
            streams, spec.events["TableChanges"], handler, LambdaContext("LifecyclePublisherFunction")
        )
        self.source.on_failure = self.failed.append
        # A consumer: every calsync event on the bus into a queue we read.
        sqs, events = boto3.client("sqs"), boto3.client("events")
        self.queue = sqs.create_queue(QueueName="captured-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = self.env["EVENT_BUS_NAME"]
        events.put_rule(Name="capture", EventBusName=bus, EventPattern=json.dumps({"source": ["calsync"]}))
        events.put_targets(Rule="capture", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
        self.sqs, self.seen = sqs, []

    def deliver(self, *bodies: bytes) -> list[dict[str, Any]]:
        """Deliveries in, processed, the stream published; the events that reached the bus."""
        for body in bodies:
            assert self.pipeline.post(body)["statusCode"] == 202
            self.pipeline.drain()
        self.pipeline.drain()  # anything enqueued otherwise (a replay)
        self.source.drain()
        new: list[dict[str, Any]] = []
        while batch := self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10).get("Messages", []):
            for message in batch:
                new.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queue, ReceiptHandle=message["ReceiptHandle"])
        for event in new:
            jsonschema.validate(event["detail"], json.loads(schema_path_for(event).read_text()))
        self.seen += new
        return new

    def schedules(self) -> set[str]:
        found = boto3.client("scheduler").list_schedules(GroupName=self.env["SCHEDULE_GROUP_NAME"])["Schedules"]
        return {s["Name"] for s in found}


def schema_path_for(event: dict[str, Any]) -> Any:
    from calsync.lifecycle.events import DetailType

    return schema_path(DetailType(event["detail-type"]))


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail-type"] for e in events]


@pytest.fixture
def lifecycle(pipeline: Pipeline, stack: Stack) -> Lifecycle:
    return Lifecycle(pipeline)


def test_a_booking_is_published_once_and_its_duplicate_and_stale_copies_publish_nothing(lifecycle: Lifecycle) -> None:
    # Given a new booking
    (scheduled,) = lifecycle.deliver(event_body("invitee_created.json"))
    # Then one Booking Scheduled, from calsync, with the booking as stored
    assert scheduled["source"] == "calsync"
    assert scheduled["detail-type"] == "Booking Scheduled"
    booking = scheduled["detail"]["booking"]
    assert booking["email"] == "ada@example.com"
    assert booking["location"] is not None
    assert booking["hosts"]
    # And a duplicate (new signature) and a stale copy publish nothing
    assert lifecycle.deliver(event_body("invitee_created.json")) == []
    stale = vary("invitee_created.json", updated_at="2019-01-01T00:00:00.000000Z")
    assert lifecycle.deliver(stale) == []


def test_an_event_the_bus_refused_is_published_on_the_retry_not_lost(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the bus refuses the first attempt (the table write is done; the publish fails)
    original, calls = EventBridgePublisher.publish, []

    def flaky(self: EventBridgePublisher, events: Any) -> set[int]:
        calls.append(len(events))
        if len(calls) == 1:
            raise DependencyUnavailable("events:PutEvents failed: ThrottlingException")
        return original(self, events)

    monkeypatch.setattr(EventBridgePublisher, "publish", flaky)
    # When the stream record is retried
    published = lifecycle.deliver(event_body("invitee_created.json"))
    # Then the event arrives once, nothing went to the failure destination
    assert kinds(published) == ["Booking Scheduled"]
    assert len(calls) == 2
    assert lifecycle.failed == []


def test_a_reminder_fires_for_the_booking_as_scheduled_and_not_after_it_was_canceled(lifecycle: Lifecycle) -> None:
    # Given a booking with its reminders scheduled
    lifecycle.deliver(event_body("invitee_created.json"))
    scheduler = boto3.client("scheduler")
    group = lifecycle.env["SCHEDULE_GROUP_NAME"]
    (soon,) = [name for name in lifecycle.schedules() if "-soon-3600" in name]
    schedule = scheduler.get_schedule(Name=soon, GroupName=group)
    assert schedule["ScheduleExpression"].startswith("at(")
    assert schedule["Target"]["Arn"] == lifecycle.env["REMINDER_TARGET_ARN"]
    reminder = load_handler(lifecycle.pipeline.stack.functions["ReminderFunction"], apply_environment=False)
    payload = json.loads(schedule["Target"]["Input"])
    # When the scheduler invokes the reminder function
    assert reminder(payload, LambdaContext("ReminderFunction"))["published"]
    (event,) = lifecycle.deliver()
    # Then "Booking Starting Soon" is published with its lead time
    assert event["detail-type"] == "Booking Starting Soon"
    assert event["detail"]["lead_seconds"] == 3600
    # And a reminder that fires after the booking was canceled says nothing
    lifecycle.deliver(event_body("invitee_canceled.json"))
    assert reminder(payload, LambdaContext("ReminderFunction")) == {"published": None}
    assert [e for e in lifecycle.deliver() if e["detail-type"] == "Booking Starting Soon"] == []


class PutEventsSpy:
    """The publisher's EventBridge client, watched: the entries of every PutEvents call, and
    ``refuse`` (detail-type → times) makes the bus refuse matching entries that many times
    (PutEvents fails entry by entry: FailedEntryCount, an ErrorCode on each refused entry)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from calsync.aws import clients

        self.client = clients.events()
        self.original = self.client.put_events
        self.calls: list[list[str]] = []
        self.refuse: dict[str, int] = {}
        monkeypatch.setattr(self.client, "put_events", self.put_events)

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([entry["DetailType"] for entry in Entries])
        results: list[dict[str, Any]] = []
        for entry in Entries:
            if self.refuse.get(entry["DetailType"], 0) > 0:
                self.refuse[entry["DetailType"]] -= 1
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "injected"})
            else:
                results.append(self.original(Entries=[entry])["Entries"][0])
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


def test_a_batch_of_changes_goes_on_the_bus_in_one_put_events_call_per_ten_events(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from calsync_dev.cli.send import synthetic_bodies

    # Given 23 new bookings stored, their table changes in one stream batch
    spy = PutEventsSpy(monkeypatch)
    bodies = synthetic_bodies(23, "batch")
    # When the publisher runs over the batch
    published = lifecycle.deliver(*bodies)
    # Then every booking is announced once, in 3 PutEvents calls (the bus takes 10 entries a call)
    assert kinds(published) == ["Booking Scheduled"] * 23
    assert len({e["detail"]["event_id"] for e in published}) == 23
    assert [len(call) for call in spy.calls] == [10, 10, 3]
    assert lifecycle.failed == []


def test_an_entry_the_bus_refused_is_sent_again_alone_and_nothing_is_published_twice(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a booking stored, and the bus refusing its no-show entry once (a partial failure)
    lifecycle.deliver(event_body("invitee_created.json"))
    spy = PutEventsSpy(monkeypatch)
    spy.refuse["Invitee No-Show Marked"] = 1
    # When a no-show and a routing form submission are published in one batch
    lifecycle.pipeline.post(event_body("invitee_no_show_created.json"))
    lifecycle.pipeline.post(event_body("routing_form_submission_created.json"))
    published = lifecycle.deliver()
    # Then the refused entry alone is sent again, and each event reaches the bus once
    assert sorted(kinds(published)) == ["Invitee No-Show Marked", "Routing Form Submitted"]
    assert [sorted(call) for call in spy.calls] == [
        ["Invitee No-Show Marked", "Routing Form Submitted"],
        ["Invitee No-Show Marked"],
    ]
    assert lifecycle.failed == []


def test_a_record_whose_events_the_bus_keeps_refusing_is_retried_until_they_are_on_it(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the bus refusing a booking's event on every attempt of the first invocation
    spy = PutEventsSpy(monkeypatch)
    spy.refuse["Booking Scheduled"] = 3
    # When the change is published (the stream retries a record the function reported)
    published = lifecycle.deliver(event_body("invitee_created.json"))
    # Then the record was not acknowledged with its event off the bus: the retry published it, once
    assert kinds(published) == ["Booking Scheduled"]
    assert [len(call) for call in spy.calls] == [1, 1, 1, 1]
    assert lifecycle.failed == []


def test_a_batch_of_new_bookings_reads_their_scheduled_events_together(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from calsync.aws import clients
    from calsync_dev.cli.send import synthetic_bodies

    # Given 12 new bookings stored (each with its own scheduled event), their changes in one batch
    bodies = synthetic_bodies(12, "reads")
    for body in bodies:
        assert lifecycle.pipeline.post(body)["statusCode"] == 202
    lifecycle.pipeline.drain()
    reads: list[str] = []
    clients.dynamodb().meta.events.register("before-call.dynamodb.*", lambda model, **_: reads.append(model.name))
    # When the publisher runs over the batch
    published = lifecycle.deliver()
    # Then every booking is announced with its hosts and location, read in one call, not one per booking
    assert kinds(published) == ["Booking Scheduled"] * 12
    assert all(e["detail"]["booking"]["hosts"] and e["detail"]["booking"]["location"] for e in published)
    assert reads == ["BatchGetItem"]


def test_scheduled_events_the_batch_read_left_unprocessed_are_asked_again(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from calsync.aws import clients
    from calsync_dev.cli.send import synthetic_bodies

    # Given 3 new bookings in one batch, and DynamoDB leaving one key of the first read unprocessed
    for body in synthetic_bodies(3, "unprocessed"):
        assert lifecycle.pipeline.post(body)["statusCode"] == 202
    lifecycle.pipeline.drain()
    client, asked = clients.dynamodb(), []
    original = client.batch_get_item

    def partial(*, RequestItems: dict[str, Any]) -> dict[str, Any]:
        ((table, request),) = RequestItems.items()
        asked.append(len(request["Keys"]))
        if len(asked) > 1:
            return original(RequestItems=RequestItems)
        answer = original(RequestItems={table: {**request, "Keys": request["Keys"][1:]}})
        return {**answer, "UnprocessedKeys": {table: {**request, "Keys": request["Keys"][:1]}}}

    monkeypatch.setattr(client, "batch_get_item", partial)
    # When the publisher runs over the batch
    published = lifecycle.deliver()
    # Then the unprocessed key was asked again (3 events, the 3 bookings announced and their one
    # event type), and every booking carries its hosts and location
    assert asked == [7, 1]
    assert len(published) == 3
    assert all(e["detail"]["booking"]["hosts"] and e["detail"]["booking"]["location"] for e in published)


def latest_per_booking(events: list[dict[str, Any]], order: str) -> dict[str, dict[str, Any]]:
    """What a consumer following docs/events.md keeps: per booking, the event whose ``booking``
    carries the greatest ``order`` (``version`` for its status, ``no_show_version`` for its mark)."""
    kept: dict[str, dict[str, Any]] = {}
    for event in events:
        booking = event["detail"]["booking"]
        held = kept.get(booking["invitee_uri"])
        if booking[order] is not None and (held is None or booking[order] > held[order]):
            kept[booking["invitee_uri"]] = booking
    return kept


def consumer_agrees_with_the_table(lifecycle: Lifecycle, events: list[dict[str, Any]]) -> None:
    (stored,) = lifecycle.pipeline.repo.all_bookings()
    for arrival in (events, events[::-1]):
        (booking,) = latest_per_booking(arrival, "version").values()
        assert booking["status"] == stored.status
        marks = latest_per_booking(arrival, "no_show_version").values()
        assert [mark["no_show"] for mark in marks] == ([stored.no_show] if marks else [])


def test_a_consumer_ends_with_the_stored_state_whatever_order_events_arrive_in(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a booking and its cancellation in one stream batch, with the bus refusing the
    # booking's entry the first three times (so its cancellation goes out first)
    for name in ("invitee_created.json", "invitee_canceled.json"):
        assert lifecycle.pipeline.post(event_body(name))["statusCode"] == 202
    lifecycle.pipeline.drain()
    spy = PutEventsSpy(monkeypatch)
    spy.refuse["Booking Scheduled"] = 3
    arrived = lifecycle.deliver()
    assert kinds(arrived) == ["Booking Canceled", "Booking Scheduled", "Booking Canceled"]
    # When a consumer keeps, per booking, the event with the greatest version, in either order
    # Then it holds the booking as the table does: canceled
    consumer_agrees_with_the_table(lifecycle, arrived)
    assert lifecycle.pipeline.repo.all_bookings()[0].status == "canceled"
    # And so it does after a no-show is marked and removed (by the greatest no-show version)
    arrived += lifecycle.deliver(event_body("invitee_no_show_created.json"), event_body("invitee_no_show_deleted.json"))
    consumer_agrees_with_the_table(lifecycle, arrived)
