"""A booking calsync first stores after its end (a late webhook, a reconcile or backfill repair):
``Booking Ended`` once, at once, when the end is recent; nothing for older ends; never
``Starting Soon``. Times are relative to the clock the test passes in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema

from calsync.lifecycle.events import DetailType
from calsync.lifecycle.publish import Change, publish_changes
from calsync.lifecycle.reminders import fire, late_ended, plan, wanted
from calsync_dev.schemas import schema_path
from tests.fakes.lifecycle import FakeBus, FakeImages, FakeSchedules
from tests.unit.lifecycle.test_derive import HOSTED, invitee

LEADS = (86_400, 3_600)
NOW = datetime(2031, 5, 17, 12, tzinfo=UTC)  # any moment: every time below is relative to it
WINDOW = timedelta(days=7)


def at(delta: timedelta) -> str:
    return (NOW + delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def booked(ends_in: timedelta, **attributes: Any) -> dict[str, Any]:
    """A 30-minute booking ending ``ends_in`` from now (negative: already over)."""
    return invitee(start_time=at(ends_in - timedelta(minutes=30)), end_time=at(ends_in), **attributes)


def test_a_booking_first_stored_an_hour_after_its_end_is_ended_once_at_once() -> None:
    # Given a booking that ended an hour ago, stored now for the first time
    new = booked(-timedelta(hours=1))
    # When its reminders are planned
    changes = plan(None, new, LEADS, now=NOW, ended_window=WINDOW)
    # Then one Booking Ended is due now, nothing is scheduled (never Starting Soon)
    assert [r.detail_type for r in changes.due] == [DetailType.BOOKING_ENDED]
    assert (changes.put, changes.delete) == ([], [])
    # And its event is the one the scheduled reminder would have published (same event_id)
    (due,) = changes.due
    event = late_ended(due, new, FakeImages.of(HOSTED))
    scheduled = fire(due.payload(), FakeImages.of(new, HOSTED))
    assert scheduled is not None
    assert (event.detail_type, event.event_id, event.detail) == (
        scheduled.detail_type,
        scheduled.event_id,
        scheduled.detail,
    )
    jsonschema.validate(json.loads(json.dumps(event.detail)), json.loads(schema_path(event.detail_type).read_text()))


def test_a_booking_whose_end_is_beyond_the_window_publishes_nothing() -> None:
    # Given a backfill storing bookings that ended 8 and 90 days ago (a 7-day window)
    for ended in (timedelta(days=8), timedelta(days=90)):
        changes = plan(None, booked(-ended), LEADS, now=NOW, ended_window=WINDOW)
        # Then nothing is due and nothing scheduled
        assert (changes.due, changes.put, changes.delete) == ([], [], [])
    # And a window of 0 days turns the rule off
    assert plan(None, booked(-timedelta(hours=1)), LEADS, now=NOW, ended_window=timedelta(0)).due == []


def test_a_booking_still_ahead_gets_its_reminders_as_before_and_nothing_now() -> None:
    new = booked(timedelta(days=2))
    changes = plan(None, new, LEADS, now=NOW, ended_window=WINDOW)
    assert changes.due == []
    assert {r.name for r in changes.put} == set(wanted(new, LEADS))
    # And one that started but has not ended yet: its end is scheduled, its Starting Soon are past
    running = plan(None, booked(timedelta(minutes=10)), LEADS, now=NOW, ended_window=WINDOW)
    assert running.due == []
    assert [r.detail_type for r in running.put] == [DetailType.BOOKING_ENDED]


def test_a_canceled_or_rescheduled_away_booking_first_stored_after_its_end_publishes_nothing() -> None:
    for new in (
        booked(-timedelta(hours=1), status="canceled"),
        booked(-timedelta(hours=1), status="canceled", rescheduled=True),
        booked(-timedelta(hours=1), rescheduled_to="https://api.calendly.com/scheduled_events/E2/invitees/I2"),
    ):
        assert plan(None, new, LEADS, now=NOW, ended_window=WINDOW).due == []


def test_an_update_of_a_stored_booking_that_has_ended_publishes_nothing_new() -> None:
    # Given a booking stored before (its end reminder was planned then), updated after its end
    old = booked(-timedelta(hours=1))
    new = booked(-timedelta(hours=1), no_show={"uri": "https://api.calendly.com/invitee_no_shows/N1"})
    # Then nothing is due and nothing moves
    changes = plan(old, new, LEADS, now=NOW, ended_window=WINDOW)
    assert (changes.due, changes.put, changes.delete) == ([], [], [])


def test_the_publisher_puts_the_late_booking_ended_on_the_bus_with_its_booking_scheduled() -> None:
    # Given a stream batch with a booking first stored an hour after its end, and one 90 days after
    recent, old = booked(-timedelta(hours=1)), booked(-timedelta(days=90), uri=invitee()["uri"].replace("I1", "I9"))
    bus, schedules = FakeBus(), FakeSchedules()
    outcome = publish_changes(
        [Change("seq-1", None, recent), Change("seq-2", None, old)],
        images=FakeImages.of(HOSTED),
        bus=bus,
        schedules=schedules,
        claims=FakeImages(),
        leads=LEADS,
        now=NOW,
        ended_window=WINDOW,
    )
    # Then both are scheduled-announced, only the recent one ended, and no schedule was made
    assert [e.detail_type.value for e in outcome.published] == [
        "Booking Scheduled",
        "Booking Ended",
        "Booking Scheduled",
    ]
    assert schedules.put_names == []
    assert outcome.failed is None


def test_the_publishers_window_is_the_reconcilers_recent_days_unless_set() -> None:
    from calsync.config import PublisherSettings

    names = {
        "BOOKINGS_TABLE_NAME": "t",
        "EVENT_BUS_NAME": "b",
        "SCHEDULE_GROUP_NAME": "g",
        "REMINDER_TARGET_ARN": "arn",
        "SCHEDULER_ROLE_ARN": "role",
        "REMINDER_DLQ_ARN": "arn:dlq",
    }
    assert PublisherSettings.from_env(names).late_ended_window_days == 7
    recent = {**names, "LATE_ENDED_WINDOW_DAYS": "recent", "RECONCILE_RECENT_DAYS": "14"}
    assert PublisherSettings.from_env(recent).late_ended_window_days == 14
    assert PublisherSettings.from_env({**recent, "LATE_ENDED_WINDOW_DAYS": "2"}).late_ended_window_days == 2
    assert PublisherSettings.from_env({**recent, "LATE_ENDED_WINDOW_DAYS": "0"}).late_ended_window_days == 0
