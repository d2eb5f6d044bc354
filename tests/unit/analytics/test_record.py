"""Lifecycle events → lake records: the facts the metrics need, and no personal data ever."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from calsync.analytics.record import LakeRecord, from_eventbridge, lake_records
from calsync.lifecycle.derive import derive
from calsync.lifecycle.events import DetailType, LifecycleEvent
from tests.factories import event_body, fixture_bodies, vary
from tests.fakes.lifecycle import FakeImages
from tests.unit.lifecycle.pipeline import Pipeline

AT = datetime(2026, 11, 20, 9, 0, 5, tzinfo=UTC)
SAMPLES = (
    "invitee_created.json",
    "invitee_no_show_created.json",
    "invitee_no_show_deleted.json",
    "invitee_rescheduled_canceled_old.json",
    "invitee_rescheduled_created_new.json",
    "invitee_canceled.json",
    "routing_form_submission_created.json",
)
# Payload keys whose values are personal data or free text
PERSONAL = {
    "email",
    "name",
    "first_name",
    "last_name",
    "text_reminder_number",
    "answer",
    "question",
    "reason",
    "canceled_by",
    "meeting_notes_plain",
    "meeting_notes_html",
    "user_name",
    "user_email",
    "timezone",
    "phone_number",
    "location",
    "join_url",
}
KEPT = {
    "kind",
    "event_id",
    "occurred_at",
    "connection_id",
    "event_uuid",
    "invitee_uuid",
    "event_type",
    "host_user",
    "status",
    "start_time",
    "end_time",
    "created_at",
    "no_show",
    "canceled_by",
    "rescheduled",
    "rescheduled_from",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "routing_form_id",
    "submission_uuid",
    "version",
    "no_show_version",
}


def personal_values(value: Any, key: str | None = None, parent: str | None = None) -> Iterator[str]:
    """Every text under a personal key, anywhere in a payload (a scheduled event's ``name`` is its
    event type's name, which the lake keeps as the event type)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from personal_values(v, k, key)
    elif isinstance(value, list):
        for item in value:
            yield from personal_values(item, key, parent)
    elif (
        isinstance(value, str)
        and key in PERSONAL
        and len(value) >= 3
        and not value.startswith("http")
        and not (key == "name" and parent in ("scheduled_event", "event"))
    ):
        yield value


def leaks(secrets: set[str], records: list[LakeRecord]) -> set[str]:
    """The secrets found in any field of any record (``kind`` is one of the fixed detail-types)."""
    values = [
        str(value)
        for record in records
        for name, value in record.model_dump(mode="json").items()
        if name != "kind" and value is not None
    ]
    return {secret for secret in secrets for value in values if secret in value}


def as_person(sample: str, person: dict[str, str]) -> bytes:
    """A sample delivery of another person (``vary`` cannot take a ``name``)."""
    body = json.loads(event_body(sample))
    body["payload"].update(person)
    return json.dumps(body).encode()


def every_event(bodies: list[bytes]) -> list[LifecycleEvent]:
    lifecycle = Pipeline()
    return [event for body in bodies for event in lifecycle.deliver(body)]


def records_of(events: list[LifecycleEvent]) -> list[LakeRecord]:
    return [record for event in events for record in lake_records(event, AT)]


def lake_text(events: list[LifecycleEvent]) -> list[str]:
    return [record.model_dump_json() for record in records_of(events)]


def test_the_lake_keeps_exactly_the_issues_fields() -> None:
    assert set(LakeRecord.model_fields) == KEPT


@pytest.mark.parametrize("source", ["samples", "fixtures"])
def test_no_personal_data_from_any_fixture_reaches_the_lake(source: str) -> None:
    # Given every sample (or real fixture) delivery through the pipeline, and the events it published
    # (each real fixture alone too: several share one invitee URI)
    bodies = [event_body(name) for name in SAMPLES] if source == "samples" else list(fixture_bodies().values())
    events = every_event(bodies) + [event for body in bodies for event in every_event([body])]
    assert {e.detail_type for e in events} >= {
        DetailType.BOOKING_SCHEDULED,
        DetailType.BOOKING_CANCELED,
        DetailType.NO_SHOW_MARKED,
        DetailType.ROUTING_FORM_SUBMITTED,
    }
    # Then no record derived from them holds any of their personal values, in any field
    secrets = {text for body in bodies for text in personal_values(json.loads(body))}
    assert len(secrets) >= 5
    records = records_of(events)
    assert records
    assert leaks(secrets, records) == set()


def test_an_erased_persons_email_and_name_appear_in_no_lake_record() -> None:
    # Given a person's every booking event, then their erasure (a tombstone in the table)
    person = {"email": "erased.person@example.org", "name": "Erin Erased"}
    bodies = [as_person(sample, person) for sample in SAMPLES if sample.startswith("invitee_")]
    events = every_event(bodies) + derive(
        None, {"type": "tombstone", "address_hash": "h" * 64, "erased_at": "2026-12-02T00:00:00Z"}, FakeImages.of()
    )
    assert DetailType.INVITEE_ERASED in {e.detail_type for e in events}
    # Then neither the email nor the name is in any record ever written to the lake
    for text in lake_text(events):
        assert "erased.person" not in text.lower()
        assert "erin" not in text.lower()


def test_a_scheduled_booking_lands_with_its_uuids_type_host_times_and_tracking() -> None:
    body = vary(
        "invitee_created.json", tracking={"utm_source": "newsletter", "utm_campaign": "winter", "utm_term": None}
    )
    (scheduled,) = every_event([body])
    (record,) = lake_records(scheduled, AT)
    assert (record.kind, record.event_uuid, record.invitee_uuid) == (
        "Booking Scheduled",
        "DEMOEVENT0000001",
        "INVITEE00000001",
    )
    assert (record.event_type, record.status, record.connection_id) == ("Product demo", "active", "acme")
    assert record.host_user is not None
    assert record.host_user.endswith("/users/HOSTUSER00000001")
    assert record.start_time == datetime(2026, 12, 1, 15, tzinfo=UTC)
    assert (record.utm_source, record.utm_campaign, record.utm_term) == ("newsletter", "winter", None)
    assert record.created_at == AT  # schema v2 carries no creation time: the event's time
    assert (record.no_show, record.canceled_by, record.rescheduled) == (False, None, False)
    assert record.dt.isoformat() == "2026-11-20"


def test_a_cancellation_keeps_who_canceled_but_not_their_name_or_reason() -> None:
    lifecycle = Pipeline()
    lifecycle.deliver(event_body("invitee_created.json"))
    (canceled,) = lifecycle.deliver(event_body("invitee_canceled.json"))
    (record,) = lake_records(canceled, AT)
    assert (record.status, record.canceled_by, record.rescheduled) == ("canceled", "invitee", False)


def test_a_reschedule_lands_as_the_new_booking_and_the_old_one_canceled_to_reschedule() -> None:
    (_, rescheduled) = every_event(
        [
            event_body("invitee_created.json"),
            event_body("invitee_rescheduled_canceled_old.json"),
            event_body("invitee_rescheduled_created_new.json"),
        ]
    )
    new, old = lake_records(rescheduled, AT)
    assert (new.status, new.rescheduled, new.rescheduled_from) == ("active", False, old.invitee_uuid)
    assert (old.status, old.rescheduled, old.event_uuid) == ("canceled", True, "DEMOEVENT0000002")
    assert old.version == new.version
    assert old.start_time != new.start_time


def test_a_no_show_mark_lands_with_its_version() -> None:
    (_, marked) = every_event([event_body("invitee_created.json"), event_body("invitee_no_show_created.json")])
    (record,) = lake_records(marked, AT)
    assert (record.kind, record.no_show) == ("Invitee No-Show Marked", True)
    assert record.no_show_version is not None


def test_a_routing_form_submission_lands_with_its_form_and_submission_ids() -> None:
    (submitted,) = every_event([event_body("routing_form_submission_created.json")])
    (record,) = lake_records(submitted, AT)
    assert record.kind == "Routing Form Submitted"
    assert record.routing_form_id
    assert record.submission_uuid
    assert record.status is None


@pytest.mark.parametrize("kind", [DetailType.BOOKING_STARTING_SOON, DetailType.BOOKING_ENDED])
def test_reminders_land_as_nothing(kind: DetailType) -> None:
    # Given a reminder, which repeats a booking's state and changes nothing
    (scheduled,) = every_event([event_body("invitee_created.json")])
    reminder = LifecycleEvent(kind, "r1", scheduled.detail | {"lead_seconds": 3600})
    # Then the lake keeps no record of it
    assert lake_records(reminder, AT) == []


def test_an_eventbridge_delivery_lands_as_the_same_records() -> None:
    # Given a lifecycle event as EventBridge delivers it to the lake's stream
    (scheduled,) = every_event([event_body("invitee_created.json")])
    envelope = {
        "source": "calsync",
        "detail-type": scheduled.detail_type.value,
        "time": "2026-11-20T09:00:05Z",
        "detail": json.loads(json.dumps(scheduled.detail)),
    }
    # Then it lands as the records of the event, at the delivery's time
    assert from_eventbridge(envelope) == lake_records(scheduled, AT)
    # and as one flat row a Firehose Parquet conversion reads (Hive timestamps, no personal data)
    (row,) = [record.as_row() for record in from_eventbridge(envelope)]
    assert list(row) == list(LakeRecord.model_fields)
    assert row["start_time"] == "2026-12-01 15:00:00.000000"
    assert "ada" not in json.dumps(row).lower()


def test_an_event_of_another_kind_or_without_a_time_lands_as_nothing() -> None:
    assert from_eventbridge({"detail-type": "Something Else", "time": "2026-11-20T09:00:05Z", "detail": {}}) == []
    assert from_eventbridge({"detail-type": "Booking Scheduled", "detail": {"event_id": "x"}}) == []
