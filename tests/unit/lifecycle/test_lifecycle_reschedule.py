"""A reschedule whose deliveries arrive out of order: the processors' code, the table's stream
through the publisher in one batch or record by record, the events that reach the bus (in
memory: tests/unit/lifecycle/pipeline.py; moved from tests/integration, where it ran on moto)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from calsync.lifecycle.events import LifecycleEvent
from tests.factories import event_body, event_json
from tests.unit.lifecycle.pipeline import Pipeline, kinds


def stale_created_for_the_old_booking() -> bytes:
    """Calendly's ``invitee.created`` for A (the booking later rescheduled to B), delivered late:
    A as it was before the reschedule, older than its cancellation."""
    data: dict[str, Any] = event_json("invitee_rescheduled_canceled_old.json")
    data["event"] = "invitee.created"
    data["created_at"] = "2026-11-21T09:00:01.000000Z"
    data["payload"].update(
        status="active",
        updated_at="2026-11-21T09:00:00.000000Z",
        created_at="2026-11-21T09:00:00.000000Z",
        rescheduled=False,
        new_invitee=None,
        cancellation=None,
    )
    return json.dumps(data).encode()


@pytest.mark.parametrize("one_batch", [True, False], ids=["one-batch", "stream-after-each"])
def test_a_reschedule_whose_old_booking_arrives_late_never_announces_it_as_scheduled(one_batch: bool) -> None:
    lifecycle = Pipeline()
    # Given, in this order: new booking B (old_invitee = A), a late invitee.created for A, then
    # A's cancellation (rescheduled); processed before the stream is read (one batch), or each
    # published before the next arrives
    published: list[LifecycleEvent] = []
    for body in (
        event_body("invitee_rescheduled_created_new.json"),
        stale_created_for_the_old_booking(),
        event_body("invitee_rescheduled_canceled_old.json"),
    ):
        if one_batch:
            lifecycle.process(body)
        else:
            published += lifecycle.deliver(body)
    # When the publisher runs over what is left of the stream
    published += lifecycle.deliver()
    # Then the bus gets one Booking Rescheduled carrying A's cancellation, and never a Booking
    # Scheduled for A (EventBridge keeps no order: a consumer could keep A as a ghost booking)
    assert kinds(published) == ["Booking Rescheduled"]
    detail = published[0].detail
    assert detail["old"]["invitee_uri"] == event_json("invitee_rescheduled_canceled_old.json")["payload"]["uri"]
    assert detail["cancellation"]["reason"] == "Rescheduled"
    assert lifecycle.failed == []
