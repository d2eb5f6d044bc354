"""Event Type Changed and Meeting Recap Ready, from webhooks processed into stored items: one
per real change, none for a stale or repeated delivery, each detail valid against its committed
schema; a recap's text leaves on the bus only when the stack allows it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync.bookings.apply import apply_delivery
from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
from calsync.lifecycle.derive import derive
from calsync.lifecycle.events import DetailType, LifecycleEvent
from calsync_dev.events import delivery_for
from tests.factories import event_body
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.lifecycle import FakeImages
from tests.unit.kinds.test_processing import body
from tests.unit.lifecycle.test_derive import validate

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def events_of(repo: FakeBookingsRepository, *raws: bytes) -> list[LifecycleEvent]:
    """The lifecycle events the stored changes of these deliveries mean, in order."""
    found: list[LifecycleEvent] = []
    images = FakeImages(repo.table)
    for raw in raws:
        apply_delivery(
            delivery_for(raw, connection_id="acme", received_at=NOW), repo, now=NOW, archive_ttl=timedelta(1)
        )
        for _, old, new in repo.table.take_changes():
            found += derive(old, new, images)
    return validate(found)


def of(kind: DetailType, events: list[LifecycleEvent]) -> list[dict[str, Any]]:
    return [e.detail for e in events if e.detail_type is kind]


def test_an_event_type_change_is_published_once_with_the_previous_name() -> None:
    repo = FakeBookingsRepository()
    created = body("event_type_updated.json", name="Intro", updated_at="2026-11-01T10:00:00.000000Z")
    renamed = body("event_type_updated.json", name="Discovery call", updated_at="2026-11-02T10:00:00.000000Z")
    # When it is created, renamed, and the rename and the creation are sent again
    details = of(DetailType.EVENT_TYPE_CHANGED, events_of(repo, created, renamed, renamed, created))
    # Then two events: created, then updated naming the name as changed
    assert [(d["change"], d["event_type"]["name"], d["previous_name"]) for d in details] == [
        ("created", "Intro", None),
        ("updated", "Discovery call", "Intro"),
    ]
    assert details[1]["changed"] == ["name", "updated_at"]
    assert details[0]["event_type"]["owner"] == "https://api.calendly.com/users/AAAAAAAAAAAAAAAA"
    # And its deletion is one more
    deleted = body("event_type_updated.json", event="event_type.deleted", deleted_at="2026-11-03T10:00:00.000000Z")
    (last,) = of(DetailType.EVENT_TYPE_CHANGED, events_of(repo, deleted))
    assert (last["change"], last["event_type"]["active"]) == ("deleted", False)


def test_a_recap_is_ready_once_with_its_meeting_and_its_text_leaves_only_when_allowed() -> None:
    repo = FakeBookingsRepository()
    recap = body("meeting_recap_updated.json")
    newer = body("meeting_recap_updated.json", summary_md="Edited.", updated_at="2026-11-22T10:00:00.000000Z")
    events = events_of(repo, event_body("invitee_created.json"), recap, recap, newer)
    (ready,) = [e for e in events if e.detail_type is DetailType.MEETING_RECAP_READY]
    assert ready.detail["event"]["uri"] == "https://api.calendly.com/scheduled_events/DEMOEVENT0000001"
    assert ready.detail["recap"]["summary_md"].startswith("Ada walked")
    # When it is put on the bus by default, Then its text is not there
    sent: list[Any] = []

    class Client:
        def put_events(self, Entries: list[Any]) -> dict[str, Any]:
            sent.extend(Entries)
            return {"FailedEntryCount": 0, "Entries": [{} for _ in Entries]}

    EventBridgePublisher("bus", Client()).publish([ready])  # type: ignore[arg-type]
    detail = json.loads(sent[-1]["Detail"])
    assert detail["recap"]["text_included"] is False
    assert "Ada walked" not in sent[-1]["Detail"]
    assert detail["recap"]["summary_md"] is None
    # And with RecapTextInEvents on, it is
    EventBridgePublisher("bus", Client(), recap_text=True).publish([ready])  # type: ignore[arg-type]
    assert json.loads(sent[-1]["Detail"])["recap"]["summary_md"].startswith("Ada walked")


def test_a_recap_still_processing_or_deleted_is_not_ready() -> None:
    repo = FakeBookingsRepository()
    processing = body("meeting_recap_updated.json", status="processing", updated_at="2026-11-20T10:00:00.000000Z")
    assert of(DetailType.MEETING_RECAP_READY, events_of(repo, processing)) == []
    assert len(of(DetailType.MEETING_RECAP_READY, events_of(repo, body("meeting_recap_updated.json")))) == 1
    assert of(DetailType.MEETING_RECAP_READY, events_of(repo, body("meeting_recap_deleted.json"))) == []


def test_a_booking_event_carries_its_event_types_current_name() -> None:
    repo = FakeBookingsRepository()
    booked = json.loads(event_body("invitee_canceled.json"))
    event_type = booked["payload"]["scheduled_event"]["event_type"]
    renamed = body("event_type_updated.json", uri=event_type, name="Discovery call (renamed)")
    # Given the event type was renamed after Ada booked; When her booking is canceled
    events = events_of(repo, event_body("invitee_created.json"), renamed, event_body("invitee_canceled.json"))
    (canceled,) = of(DetailType.BOOKING_CANCELED, events)
    # Then the cancellation names the event type as it is called now
    assert canceled["booking"]["event_name"] == "Discovery call (renamed)"
    (scheduled,) = of(DetailType.BOOKING_SCHEDULED, events)
    assert scheduled["booking"]["event_name"] == booked["payload"]["scheduled_event"]["name"]  # before the rename
