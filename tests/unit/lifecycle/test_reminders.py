"""Reminders follow the stored booking: created, moved, dropped; a fired one checks again."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema

from calsync.lifecycle.events import DetailType
from calsync.lifecycle.reminders import fire, plan, wanted
from calsync_dev.schemas import schema_path
from tests.fakes.lifecycle import FakeImages
from tests.unit.lifecycle.test_derive import OLD, invitee

LEADS = (86_400, 3_600)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_an_active_booking_wants_one_reminder_per_lead_and_one_at_its_end() -> None:
    reminders = wanted(invitee(), LEADS)
    assert {(r.detail_type, r.at.isoformat(), r.lead_seconds) for r in reminders.values()} == {
        (DetailType.BOOKING_STARTING_SOON, "2026-11-30T10:00:00+00:00", 86_400),
        (DetailType.BOOKING_STARTING_SOON, "2026-12-01T09:00:00+00:00", 3_600),
        (DetailType.BOOKING_ENDED, "2026-12-01T10:30:00+00:00", None),
    }


def test_a_new_booking_schedules_what_is_still_ahead() -> None:
    # Given a booking stored at noon the day before it starts at 10:00
    changes = plan(None, invitee(), LEADS, now=NOW)
    # Then the 24-hour reminder (already past) is skipped, the 1-hour one and the end are scheduled
    assert [(r.detail_type.value, r.lead_seconds) for r in changes.put] == [
        ("Booking Ended", None),
        ("Booking Starting Soon", 3_600),
    ]
    assert changes.delete == []


def test_a_change_that_moves_nothing_touches_no_schedule() -> None:
    changes = plan(invitee(), invitee(no_show={"uri": "m"}), LEADS, now=NOW)
    assert (changes.put, changes.delete) == ([], [])


def test_a_canceled_or_rescheduled_away_booking_drops_its_reminders() -> None:
    for after in (invitee(status="canceled"), invitee(status="canceled", rescheduled=True)):
        changes = plan(invitee(), after, LEADS, now=NOW)
        assert changes.put == []
        assert len(changes.delete) == 3


def test_a_booking_whose_times_move_moves_its_reminders() -> None:
    moved = invitee(start_time="2026-12-03T10:00:00Z", end_time="2026-12-03T10:30:00Z")
    changes = plan(invitee(), moved, LEADS, now=NOW)
    assert sorted(r.at.isoformat() for r in changes.put) == [
        "2026-12-02T10:00:00+00:00",
        "2026-12-03T09:00:00+00:00",
        "2026-12-03T10:30:00+00:00",
    ]
    assert changes.delete == []  # the same names, moved


def test_a_fired_reminder_publishes_only_for_a_booking_still_active_at_that_time() -> None:
    reminder = wanted(invitee(), LEADS)
    soon = next(r for r in reminder.values() if r.lead_seconds == 3_600)
    # Given the booking is still as scheduled
    event = fire(soon.payload(), FakeImages.of(invitee()))
    assert event is not None
    assert event.detail_type is DetailType.BOOKING_STARTING_SOON
    jsonschema.validate(json.loads(json.dumps(event.detail)), json.loads(schema_path(event.detail_type).read_text()))
    assert event.event_id == fire(soon.payload(), FakeImages.of(invitee())).event_id  # type: ignore[union-attr]
    # Then a canceled, moved or missing booking says nothing
    assert fire(soon.payload(), FakeImages.of(invitee(status="canceled"))) is None
    assert fire(soon.payload(), FakeImages.of(invitee(start_time="2026-12-03T10:00:00Z"))) is None
    assert fire(soon.payload(), FakeImages.of()) is None
    assert soon.invitee_uri == OLD


def test_a_booking_rescheduled_away_wants_no_reminders_and_a_fired_one_says_nothing() -> None:
    # Given the new half arrived first: the old booking is linked away but not yet canceled
    moved = invitee(rescheduled_to="https://api.calendly.com/scheduled_events/E2/invitees/I2")
    soon = next(r for r in wanted(invitee(), LEADS).values() if r.lead_seconds == 3_600)
    # Then it wants no reminders, its existing ones are dropped, and one that fires says nothing
    assert wanted(moved, LEADS) == {}
    assert len(plan(invitee(), moved, LEADS, now=NOW).delete) == 3
    assert fire(soon.payload(), FakeImages.of(moved)) is None
