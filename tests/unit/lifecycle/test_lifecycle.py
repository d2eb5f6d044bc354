"""Which lifecycle events stored changes publish, through the processors' and the publisher's
own code on the fakes (tests/unit/lifecycle/pipeline.py); moved from tests/integration, where
they ran on moto. What only AWS shows (the bus's source, PutEvents batching and refusals, the
reminder function's schedule, BatchGetItem reads) stays in tests/integration/test_lifecycle.py."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.factories import event_body, event_json
from tests.unit.lifecycle.pipeline import Pipeline, kinds


def test_a_cancellation_names_who_canceled_and_drops_the_reminders() -> None:
    lifecycle = Pipeline()
    lifecycle.deliver(event_body("invitee_created.json"))
    assert lifecycle.scheduled()  # reminders for the booking (those still ahead)
    (canceled,) = lifecycle.deliver(event_body("invitee_canceled.json"))
    assert kinds([canceled]) == ["Booking Canceled"]
    assert canceled.detail["canceled_by"]["type"] is not None
    assert lifecycle.scheduled() == set()


@pytest.mark.parametrize("order", [("old", "new"), ("new", "old")])
def test_a_reschedule_is_one_event_whichever_delivery_arrives_first(order: tuple[str, str]) -> None:
    lifecycle = Pipeline()
    lifecycle.deliver(event_body("invitee_created.json"))
    halves = {
        "old": event_body("invitee_rescheduled_canceled_old.json"),
        "new": event_body("invitee_rescheduled_created_new.json"),
    }
    published = lifecycle.deliver(halves[order[0]]) + lifecycle.deliver(halves[order[1]])
    assert kinds(published) == ["Booking Rescheduled"]
    detail = published[0].detail
    assert detail["old"]["start_time"] != detail["new"]["start_time"]


def test_a_no_show_mark_and_its_removal_are_two_events() -> None:
    lifecycle = Pipeline()
    lifecycle.deliver(event_body("invitee_created.json"))
    assert kinds(lifecycle.deliver(event_body("invitee_no_show_created.json"))) == ["Invitee No-Show Marked"]
    assert kinds(lifecycle.deliver(event_body("invitee_no_show_deleted.json"))) == ["Invitee No-Show Cleared"]


def test_a_routing_form_submission_is_published() -> None:
    (submitted,) = Pipeline().deliver(event_body("routing_form_submission_created.json"))
    assert kinds([submitted]) == ["Routing Form Submitted"]


def test_a_reschedule_whose_halves_are_stored_before_either_is_published_is_one_event() -> None:
    lifecycle = Pipeline()
    # Given both halves of a reschedule stored before the stream is read (their deliveries were
    # processed side by side), so each half's record finds the pair complete
    lifecycle.deliver(event_body("invitee_created.json"))
    lifecycle.process(
        event_body("invitee_rescheduled_created_new.json"), event_body("invitee_rescheduled_canceled_old.json")
    )
    # When the stream is published
    published = lifecycle.publish()
    # Then there is one Booking Rescheduled, and publishing the same records again adds none
    assert kinds(published) == ["Booking Rescheduled"]


ADA_ENDS = datetime.fromisoformat(event_json("invitee_created.json")["payload"]["scheduled_event"]["end_time"])


def test_a_booking_first_stored_an_hour_after_its_end_publishes_booking_ended_once() -> None:
    from calsync.lifecycle.events import DetailType, event_id

    # Given the publisher's clock an hour after Ada's meeting ended
    late = Pipeline(now=ADA_ENDS + timedelta(hours=1))
    # When her booking is first stored (a late webhook, or a reconcile repair)
    published = late.deliver(event_body("invitee_created.json"))
    # Then it is announced and ended at once, with no reminder scheduled
    assert sorted(kinds(published)) == ["Booking Ended", "Booking Scheduled"]
    assert late.scheduled() == set()
    (ended,) = [e for e in published if e.detail_type is DetailType.BOOKING_ENDED]
    # And its id is the one the "Booking Ended" reminder would have carried
    booking = ended.detail["booking"]
    assert ended.detail["event_id"] == event_id(
        DetailType.BOOKING_ENDED, booking["invitee_uri"], booking["start_time"], None
    )
    # And later changes of the stored booking do not end it again
    assert late.deliver(event_body("invitee_created.json")) == []
    assert kinds(late.deliver(event_body("invitee_no_show_created.json"))) == ["Invitee No-Show Marked"]


def test_a_backfill_of_bookings_that_ended_long_ago_ends_none_of_them() -> None:
    # Given the publisher's clock 90 days after Ada's meeting (beyond the default 7-day window)
    late = Pipeline(now=ADA_ENDS + timedelta(days=90))
    # When her booking is first stored (a backfill)
    published = late.deliver(event_body("invitee_created.json"))
    # Then it is announced, never ended nor reminded
    assert kinds(published) == ["Booking Scheduled"]
    assert late.scheduled() == set()
