"""Lifecycle events from old vs new stored images: one per real change, none otherwise."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

import jsonschema
import pytest

from calsync.lifecycle.derive import Image, derive
from calsync.lifecycle.events import SCHEMA_VERSION, DetailType, LifecycleEvent
from calsync_dev.schemas import render, schema_path
from tests.fakes.lifecycle import FakeImages

API = "https://api.calendly.com"
OLD = f"{API}/scheduled_events/E1/invitees/I1"
NEW = f"{API}/scheduled_events/E2/invitees/I2"


def invitee(uri: str = OLD, **attributes: Any) -> dict[str, Any]:
    event_uuid = uri.split("/")[-3]
    base = {
        "type": "invitee",
        "uri": uri,
        "tenant": "acme",
        "status": "active",
        "email": "ada@example.com",
        "name": "Ada",
        "event_uri": f"{API}/scheduled_events/{event_uuid}",
        "event_name": "Demo",
        "start_time": "2026-12-01T10:00:00Z",
        "end_time": "2026-12-01T10:30:00Z",
        "v": "2026-11-30T10:00:00.000000Z#0",
    }
    return {**base, **attributes}


HOSTED = {
    "type": "event",
    "uri": f"{API}/scheduled_events/E1",
    "name": "Demo",
    "location": {"type": "zoom", "join_url": "https://zoom.example/j/1"},
    "memberships": [{"user": f"{API}/users/U1", "user_name": "Grace", "user_email": "grace@example.com"}],
}


def kinds(events: list[LifecycleEvent]) -> list[str]:
    return [e.detail_type.value for e in events]


def validate(events: list[LifecycleEvent]) -> list[LifecycleEvent]:
    for event in events:
        schema = json.loads(schema_path(event.detail_type).read_text())
        jsonschema.validate(json.loads(json.dumps(event.detail)), schema)
    return events


def test_a_new_booking_is_scheduled_with_its_hosts_and_location() -> None:
    # Given an invitee stored for the first time, under an event with a host
    (event,) = validate(derive(None, invitee(), FakeImages.of(HOSTED)))
    # Then one Booking Scheduled carries the booking as stored
    assert event.detail_type is DetailType.BOOKING_SCHEDULED
    booking = event.detail["booking"]
    assert (booking["email"], booking["start_time"], booking["location"]["type"]) == (
        "ada@example.com",
        "2026-12-01T10:00:00Z",
        "zoom",
    )
    assert booking["hosts"] == [{"user": f"{API}/users/U1", "name": "Grace", "email": "grace@example.com"}]
    assert event.detail["connection_id"] == "acme"


def test_an_unchanged_write_publishes_nothing() -> None:
    # Given a stream record whose images are equal (moto writes one for a stale delivery)
    same = invitee(no_show={"uri": "x"})
    # Then nothing is published
    assert derive(same, same, FakeImages.of()) == []


def test_the_same_change_always_has_the_same_event_id() -> None:
    first = derive(None, invitee(), FakeImages.of())
    again = derive(None, invitee(), FakeImages.of())
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len(first[0].event_id) == 32


def test_a_cancellation_says_who_canceled_and_why() -> None:
    # Given an active booking canceled by its host
    cancellation = {"canceler_type": "host", "canceled_by": "Grace", "reason": "ill", "created_at": None}
    events = validate(derive(invitee(), invitee(status="canceled", cancellation=cancellation), FakeImages.of()))
    # Then one Booking Canceled names the host and the reason
    assert kinds(events) == ["Booking Canceled"]
    assert events[0].detail["canceled_by"] == {"type": "host", "name": "Grace", "reason": "ill"}


def old_half(**attributes: Any) -> dict[str, Any]:
    return invitee(OLD, status="canceled", rescheduled=True, rescheduled_to=NEW, **attributes)


def new_half(**attributes: Any) -> dict[str, Any]:
    return invitee(
        NEW, start_time="2026-12-02T10:00:00Z", end_time="2026-12-02T10:30:00Z", rescheduled_from=OLD, **attributes
    )


@pytest.mark.parametrize("first", ["old", "new"])
def test_a_reschedule_is_one_event_whichever_half_arrives_first(first: str) -> None:
    # Given the two halves of a reschedule stored one after the other, in either order
    store = FakeImages.of()
    published: list[LifecycleEvent] = []
    halves = {"old": (invitee(OLD), old_half()), "new": (None, new_half())}
    for name in (first, "new" if first == "old" else "old"):
        before, after = halves[name]
        published += derive(before, after, store)
        store.add(after)
    # Then exactly one Booking Rescheduled, with both invitees and both times, and no cancel/schedule
    validate(published)
    assert kinds(published) == ["Booking Rescheduled"]
    detail = published[0].detail
    assert detail["old"] == {
        "invitee_uri": OLD,
        "start_time": "2026-12-01T10:00:00Z",
        "end_time": "2026-12-01T10:30:00Z",
    }
    assert detail["new"] == {
        "invitee_uri": NEW,
        "start_time": "2026-12-02T10:00:00Z",
        "end_time": "2026-12-02T10:30:00Z",
    }
    assert detail["booking"]["invitee_uri"] == NEW


def test_a_later_change_to_a_rescheduled_booking_does_not_reschedule_it_again() -> None:
    # Given a complete reschedule pair
    store = FakeImages.of(old_half())
    # When the new booking is later marked no-show
    events = derive(new_half(), new_half(no_show={"uri": "m"}, nsv="v2"), store)
    # Then only the no-show is published
    assert kinds(events) == ["Invitee No-Show Marked"]


def test_no_show_marked_then_cleared_are_two_events_and_a_new_mark_a_third() -> None:
    marked = invitee(no_show={"uri": "m1"}, nsv="a")
    cleared = invitee(no_show=None, nsv="b")
    remarked = invitee(no_show={"uri": "m2"}, nsv="c")
    events = validate(
        derive(invitee(), marked, FakeImages.of())
        + derive(marked, cleared, FakeImages.of())
        + derive(cleared, remarked, FakeImages.of())
    )
    assert kinds(events) == ["Invitee No-Show Marked", "Invitee No-Show Cleared", "Invitee No-Show Marked"]
    assert len({e.event_id for e in events}) == 3


def test_a_routing_form_submission_names_the_booking_it_led_to() -> None:
    submission = {
        "type": "routing_form_submission",
        "uri": f"{API}/routing_form_submissions/S1",
        "tenant": "acme",
        "routing_form": f"{API}/routing_forms/F1",
        "submitter": OLD,
        "submitter_type": "Invitee",
        "questions_and_answers": [{"question": "Team size?", "answer": "12"}],
        "tracking": None,
        "result": {"type": "event_type", "value": f"{API}/event_types/T1"},
        "created_at": "2026-11-30T09:00:00Z",
    }
    (event,) = validate(derive(None, submission, FakeImages.of(invitee())))
    assert event.detail_type is DetailType.ROUTING_FORM_SUBMITTED
    assert event.detail["booking"]["invitee_uri"] == OLD
    # And storing it again publishes nothing
    assert derive(submission, submission, FakeImages.of(invitee())) == []


@pytest.mark.parametrize("detail_type", list(DetailType))
def test_the_committed_schemas_are_the_generated_ones(detail_type: DetailType) -> None:
    # Given the schema files in schemas/lifecycle (written by `make schemas`)
    # Then each is what the detail models generate: regenerate after changing a model
    assert schema_path(detail_type).read_text() == render(detail_type)


def test_a_booking_rescheduled_twice_publishes_both_reschedules_even_if_it_completes_last() -> None:
    # Given A was rescheduled to B, and B later to C; B's own data arrives last, with both links
    a_uri, b_uri, c_uri = OLD, NEW, f"{API}/scheduled_events/E3/invitees/I3"
    a = invitee(a_uri, status="canceled", rescheduled=True, rescheduled_to=b_uri)
    c = invitee(c_uri, start_time="2026-12-03T10:00:00Z", rescheduled_from=b_uri)
    b = invitee(
        b_uri,
        status="canceled",
        rescheduled=True,
        rescheduled_from=a_uri,
        rescheduled_to=c_uri,
        start_time="2026-12-02T10:00:00Z",
    )
    stub = {"type": "invitee", "uri": b_uri, "rescheduled_from": a_uri, "rescheduled_to": c_uri}
    # When B's record completes both pairs
    events = validate(derive(stub, b, FakeImages.of(a, c)))
    # Then both reschedules are published, A→B and B→C
    assert [(e.detail["old"]["invitee_uri"], e.detail["new"]["invitee_uri"]) for e in events] == [
        (b_uri, c_uri),
        (a_uri, b_uri),
    ]


def test_the_scheduled_event_is_stored_before_the_booking_that_announces_it() -> None:
    # The booking's lifecycle event reads hosts and location from the stored scheduled event,
    # so a processor writes the event first.
    from datetime import UTC, datetime, timedelta

    from calsync.bookings.apply import apply_delivery
    from calsync_dev.events import delivery_for
    from tests.factories import event_body

    calls: list[str] = []

    class Recorder:
        def __getattr__(self, name: str) -> Any:
            def record(*_: Any, **__: Any) -> bool:
                calls.append(name)
                return True

            return record

    delivery = delivery_for(event_body("invitee_created.json"), connection_id="acme", received_at=datetime.now(UTC))
    apply_delivery(delivery, Recorder(), now=datetime.now(UTC), archive_ttl=timedelta(days=1))  # type: ignore[arg-type]
    assert calls.index("upsert_event") < calls.index("upsert_invitee")


def test_deleting_a_booking_publishes_nothing() -> None:
    # Given a booking marked no-show, then deleted (an erasure removing the person)
    marked = invitee(no_show={"uri": f"{API}/invitee_no_shows/N1", "created_at": "2026-12-01T11:00:00Z"})
    # Then no event says it was canceled, or its no-show cleared
    assert derive(marked, None, FakeImages.of(HOSTED)) == []
    assert derive(invitee(status="canceled"), None, FakeImages.of(HOSTED)) == []


def test_a_tombstone_means_one_invitee_erased_without_personal_data() -> None:
    # Given a tombstone written (the keyed hash of an address and the erasure time)
    tombstone = {"type": "tombstone", "address_hash": "ab" * 32, "erased_at": "2026-11-25T10:00:00.000000Z"}
    # Then one Invitee Erased carries the hash and the time, and nothing else about the person
    (event,) = validate(derive(None, tombstone, FakeImages.of()))
    assert event.detail_type is DetailType.INVITEE_ERASED
    assert event.detail["address_hash"] == "ab" * 32
    assert event.detail["erased_at"] == "2026-11-25T10:00:00.000000Z"
    assert set(event.detail) == {"schema_version", "event_id", "connection_id", "address_hash", "erased_at"}
    # And a later erasure of the same address is another event; a write that keeps the time is none
    later = {**tombstone, "erased_at": "2026-12-01T10:00:00.000000Z"}
    assert kinds(derive(tombstone, later, FakeImages.of())) == ["Invitee Erased"]
    assert derive(tombstone, dict(tombstone), FakeImages.of()) == []
    # And the event says its scope: null for everywhere, the connection for a tenant's erasure
    assert event.detail["connection_id"] is None
    scoped = {**tombstone, "scope": "acme"}
    (tenant,) = validate(derive(None, scoped, FakeImages.of()))
    assert tenant.detail["connection_id"] == "acme"
    assert tenant.event_id != event.event_id


FIRST_AT_V2 = {DetailType.EVENT_TYPE_CHANGED, DetailType.MEETING_RECAP_READY}  # issue 21: no v1 ever published


@pytest.mark.parametrize("detail_type", [d for d in DetailType if d not in FIRST_AT_V2], ids=str)
def test_the_v1_schemas_stay_published_beside_the_current_ones(detail_type: DetailType) -> None:
    # Given consumers that validate against the v1 schemas (their booking forbids other fields)
    v1 = schema_path(detail_type).with_name(f"{detail_type.slug}.v1.json")
    # Then the v1 files are still there, as published, and the events now name a newer version,
    # whose schema holds booking.version where it has a booking
    assert json.loads(v1.read_text())["$id"] == f"calsync/lifecycle/{detail_type.slug}.v1.json"
    assert SCHEMA_VERSION != "1"
    current = json.loads(schema_path(detail_type).read_text())
    booking = current.get("$defs", {}).get("Booking")
    assert booking is None or {"version", "no_show_version"} <= set(booking["properties"])


class Table:
    """The bookings table as the processors leave it, record by record: each write's old and new
    image (what the stream carries), links set-only, invitee state applied only when newer."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.records: list[tuple[Image | None, Image]] = []

    def _write(self, uri: str, change: Mapping[str, Any]) -> None:
        old = self.items.get(uri)
        new = {**(old or {}), **change}
        if new != old:
            self.items[uri] = new
            self.records.append((old, dict(new)))

    def images(self) -> FakeImages:
        """The items as the publisher reads them now."""
        images = FakeImages()
        for uri, item in self.items.items():
            images.add(item, uri=uri)
        return images

    def invitee(self, state: Mapping[str, Any], **links: str) -> None:
        """One ``invitee.*`` delivery: the invitee's state if newer, then the other half's link."""
        stored = self.items.get(str(state["uri"]), {})
        if str(state["v"]) > str(stored.get("v", "")):
            self._write(str(state["uri"]), state)
        for link, other in links.items():
            back = "rescheduled_to" if link == "rescheduled_from" else "rescheduled_from"
            self._write(other, {"type": "invitee", back: state["uri"]})


CANCELLATION = {"canceler_type": "invitee", "canceled_by": "Ada", "reason": "Rescheduled", "created_at": None}
#  Calendly's deliveries of one reschedule A → B, and a late copy of A's creation (older than A's cancellation).
RESCHEDULE_DELIVERIES = {
    "B created": lambda table: table.invitee(new_half(v="2026-11-30T10:00:02Z#0"), rescheduled_from=OLD),
    "A created, late": lambda table: table.invitee(invitee(OLD, v="2026-11-30T09:00:00Z#0")),
    "A canceled": lambda table: table.invitee(
        old_half(v="2026-11-30T10:00:01Z#1", cancellation=CANCELLATION), rescheduled_to=NEW
    ),
}


def published_for(order: tuple[str, ...], *, one_batch: bool) -> list[LifecycleEvent]:
    """What the publisher puts on the bus for these deliveries: the stream read after each one,
    or all of it in one batch (related items then read as they are at its end); the first
    record to claim a reschedule publishes it (``Claims``)."""
    table, store, claimed = Table(), FakeImages.of(), set()
    published: list[LifecycleEvent] = []
    for name in order:
        RESCHEDULE_DELIVERIES[name](table)
        if not one_batch:
            store = table.images()
            published += [e for old, new in table.records for e in derive(old, new, store)]
            table.records.clear()
    if one_batch:
        store = table.images()
        published = [e for old, new in table.records for e in derive(old, new, store)]
    for event in list(published):
        if event.detail_type is DetailType.BOOKING_RESCHEDULED:
            if event.event_id in claimed:
                published.remove(event)
            claimed.add(event.event_id)
    return validate(published)


ORDERS = list(itertools.permutations(RESCHEDULE_DELIVERIES))


@pytest.mark.parametrize("one_batch", [False, True], ids=["stream-by-record", "one-batch"])
@pytest.mark.parametrize("order", ORDERS, ids=[" then ".join(o) for o in ORDERS])
def test_a_booking_known_to_be_rescheduled_away_is_never_announced_and_the_reschedule_carries_its_cancellation(
    order: tuple[str, ...], one_batch: bool
) -> None:
    # Given a reschedule A → B whose deliveries (and a late copy of A's creation) arrive in this order
    # When the publisher derives the events of every stored change
    events = published_for(order, one_batch=one_batch)
    # Then there is exactly one Booking Rescheduled, and it carries A's cancellation
    rescheduled = [e for e in events if e.detail_type is DetailType.BOOKING_RESCHEDULED]
    assert len(rescheduled) == 1
    assert rescheduled[0].detail["cancellation"] == CANCELLATION
    assert (rescheduled[0].detail["old"]["invitee_uri"], rescheduled[0].detail["new"]["invitee_uri"]) == (OLD, NEW)
    # And A is announced as scheduled only when it was stored, and published, before anything
    # said it was rescheduled (Calendly's own order); B never (it is announced as the reschedule)
    scheduled = [e.detail["booking"]["invitee_uri"] for e in events if e.detail_type is DetailType.BOOKING_SCHEDULED]
    assert scheduled == ([OLD] if order[0] == "A created, late" and not one_batch else [])
    # And nothing says either was canceled
    assert DetailType.BOOKING_CANCELED not in {e.detail_type for e in events}
