"""``BookingsRepository``: FakeBookingsRepository and DynamoBookingsRepository (moto) keep the
same merge rules: versioned writes apply only when newer, facts and links are only added,
kept deliveries are kept once."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.aws import keys
from calsync.aws.views import BODY_ZLIB
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.bookings.records import (
    BookingsRepository,
    EventSnapshot,
    InviteeRef,
    InviteeSnapshot,
    Link,
    NoShowChange,
    SubmissionSnapshot,
)
from calsync_dev.events import delivery_for
from tests.contract.conftest import TABLE, MotoTable
from tests.factories import event_body
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.table import MemoryTable

API = "https://api.calendly.com"
REF = InviteeRef("E1", "I1")
URI = f"{API}/scheduled_events/E1/invitees/I1"
T1, T2, T3 = (f"2026-12-01T10:0{n}:00.000000Z#0#aa" for n in (1, 2, 3))
RECEIVED = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def repository(table: MemoryTable | MotoTable) -> BookingsRepository:
    if isinstance(table, MemoryTable):
        return FakeBookingsRepository(table)
    return DynamoBookingsRepository(TABLE, table.client)


def invitee(version: str, status: str = "active", **facts: Any) -> InviteeSnapshot:
    return InviteeSnapshot(
        ref=REF,
        version=version,
        email="ada@example.com",
        start_time="2026-12-02T10:00:00.000000Z",
        state={"uri": URI, "status": status, "email": "ada@example.com", "tenant": "acme", "reason": None},
        facts=facts,
    )


def test_a_newer_invitee_state_replaces_the_stored_one_and_an_older_or_equal_one_changes_nothing(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    # Given Ada's booking stored at T2
    assert repository.upsert_invitee(invitee(T2)) is True
    # When an older and an equal representation arrive, they change nothing
    assert repository.upsert_invitee(invitee(T1, "canceled")) is False
    assert repository.upsert_invitee(invitee(T2)) is False
    assert (table.item(keys.invitee("E1", "I1")) or {})["status"] == "active"
    # When a newer one arrives, its state is stored whole, None values included
    assert repository.upsert_invitee(invitee(T3, "canceled")) is True
    assert table.item(keys.invitee("E1", "I1")) == {
        "type": "invitee",
        "v": T3,
        "uri": URI,
        "status": "canceled",
        "email": "ada@example.com",
        "tenant": "acme",
        "reason": None,
    }


def test_facts_are_only_added_whatever_the_version(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    # Given a newer state stored without the scheduled event's name (a 2020-shape delivery)
    assert repository.upsert_invitee(invitee(T2)) is True
    # When an older representation carries that fact, it is added, but its state loses
    assert repository.upsert_invitee(invitee(T1, "canceled", event_name="Demo")) is True
    # And the same again (or another value for the fact) changes nothing
    assert repository.upsert_invitee(invitee(T1, "canceled", event_name="Demo")) is False
    assert repository.upsert_invitee(invitee(T3, event_name="Other")) is True  # newer: its state is written
    stored = table.item(keys.invitee("E1", "I1")) or {}
    assert (stored["v"], stored["status"], stored["event_name"]) == (T3, "active", "Demo")


def test_a_scheduled_event_is_written_only_when_newer(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    def event(version: str, name: str) -> EventSnapshot:
        return EventSnapshot(
            event_uuid="E1",
            version=version,
            tenant="acme",
            start_time="2026-12-02T10:00:00.000000Z",
            state={"uri": f"{API}/scheduled_events/E1", "name": name, "memberships": [{"user": "U1"}], "count": 2},
        )

    assert repository.upsert_event(event(T2, "Demo")) is True
    assert repository.upsert_event(event(T1, "Old")) is False
    assert repository.upsert_event(event(T2, "Demo")) is False
    assert table.item(keys.event("E1")) == {
        "type": "event",
        "v": T2,
        "uri": f"{API}/scheduled_events/E1",
        "name": "Demo",
        "memberships": [{"user": "U1"}],
        "count": 2,
    }


def test_a_no_show_is_marked_and_cleared_by_newer_changes_only(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    mark = {"uri": f"{API}/invitee_no_shows/N1", "created_at": "2026-12-02T11:00:00.000000Z"}
    # Given no invitee stored yet: the no-show makes its item, naming its type and uri
    assert repository.set_no_show(NoShowChange(REF, URI, T2, mark)) is True
    assert table.item(keys.invitee("E1", "I1")) == {"type": "invitee", "uri": URI, "nsv": T2, "no_show": mark}
    # When an older clearing arrives it changes nothing; a newer one clears it
    assert repository.set_no_show(NoShowChange(REF, URI, T1, None)) is False
    assert repository.set_no_show(NoShowChange(REF, URI, T3, None)) is True
    assert (table.item(keys.invitee("E1", "I1")) or {})["no_show"] is None
    # And the invitee's own state written later keeps the no-show's version
    assert repository.upsert_invitee(invitee(T1)) is True
    assert (table.item(keys.invitee("E1", "I1")) or {})["nsv"] == T3


def test_links_are_set_on_the_invitee_whatever_arrives_first(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    other = f"{API}/scheduled_events/E2/invitees/I2"
    repository.link(Link(REF, "rescheduled_to", other))
    repository.link(Link(REF, "rescheduled_to", other))
    assert table.item(keys.invitee("E1", "I1")) == {"type": "invitee", "rescheduled_to": other}
    assert repository.upsert_invitee(invitee(T1)) is True
    assert (table.item(keys.invitee("E1", "I1")) or {})["rescheduled_to"] == other
    with pytest.raises(ValueError, match="not a link attribute"):
        repository.link(Link(REF, "status", "canceled"))


def test_a_submission_is_stored_under_its_submitters_event_or_on_its_own(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    state = {"uri": f"{API}/routing_form_submissions/S1", "answers": ["x"]}
    assert repository.upsert_submission(SubmissionSnapshot("S1", T2, None, state)) is True
    assert repository.upsert_submission(SubmissionSnapshot("S1", T2, REF, state)) is True
    assert repository.upsert_submission(SubmissionSnapshot("S1", T1, REF, state)) is False
    assert table.item(keys.submission("S1", None)) == {"type": "routing_form_submission", "v": T2, **state}
    assert table.item(keys.submission("S1", "E1")) == {
        "type": "routing_form_submission",
        "v": T2,
        "invitee_sk": keys.invitee_sk("I1"),
        **state,
    }


def test_a_delivery_is_archived_kept_and_quarantined_once_with_its_body(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    delivery = delivery_for(event_body("unknown_event.json"), connection_id="acme", received_at=RECEIVED)
    expires = int((RECEIVED + timedelta(days=90)).timestamp())
    # When the same delivery is archived twice, only the first is new
    assert repository.archive(delivery, expires_at=expires) is True
    assert repository.archive(delivery, expires_at=expires + 1) is False
    archived = table.item(keys.delivery(delivery.body_sha256)) or {}
    assert zlib.decompress(archived.pop(BODY_ZLIB)).decode() == delivery.body
    assert archived == {
        "type": "delivery",
        "event": delivery.event,
        "connection_id": "acme",
        "received_at": "2026-12-01T12:00:00Z",
        "expires_at": expires,
    }
    # And an event calsync does not model is kept once, under its creation time
    assert repository.keep_other(delivery, created_at=RECEIVED) is True
    assert repository.keep_other(delivery, created_at=RECEIVED) is False
    kept = table.item(keys.other(delivery.event, "2026-12-01T12:00:00Z", delivery.body_sha256)) or {}
    assert (kept["type"], zlib.decompress(kept[BODY_ZLIB]).decode()) == ("other", delivery.body)
    # And a quarantined delivery keeps the first reason
    repository.quarantine(delivery, reason="invalid")
    repository.quarantine(delivery, reason="other")
    quarantined = table.item(keys.quarantine(delivery.body_sha256)) or {}
    assert (quarantined["type"], quarantined["reason"]) == ("quarantine", "invalid")


def test_a_replays_outcomes_are_counted(repository: BookingsRepository, table: MemoryTable | MotoTable) -> None:
    for outcome in ("applied", "applied", "unchanged"):
        repository.record_replay("r1", outcome)
    stored = table.item(keys.replay("r1")) or {}
    assert (stored["type"], stored["applied"], stored["unchanged"]) == ("replay", 2, 1)
    assert isinstance(stored["expires_at"], int)


def test_the_tables_stream_has_one_record_per_real_change_with_both_images(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    key = keys.invitee("E1", "I1")
    # When Ada is stored, then canceled, and stale and repeated representations arrive
    repository.upsert_invitee(invitee(T2))
    repository.upsert_invitee(invitee(T1, "canceled"))
    repository.upsert_invitee(invitee(T3, "canceled"))
    repository.upsert_invitee(invitee(T3, "canceled"))
    # Then the stream holds the insert and the change, nothing for the writes that changed nothing
    (inserted, changed) = [change for change in table.take_changes() if change[0] == key]
    assert inserted == (key, None, table_item_at(T2, "active"))
    assert changed == (key, table_item_at(T2, "active"), table_item_at(T3, "canceled"))
    assert table.take_changes() == []


def table_item_at(version: str, status: str) -> dict[str, Any]:
    snapshot = invitee(version, status)
    return {"type": "invitee", "v": version, **snapshot.state}


# -- the whole fixture mix, through the processors' code ---------------------------------------------

MIX = [
    "invitee_created.json",
    "invitee_canceled.json",
    "invitee_no_show_created.json",
    "invitee_no_show_deleted.json",
    "invitee_rescheduled_canceled_old.json",
    "invitee_rescheduled_created_new.json",
    "routing_form_submission_created.json",
    "unknown_event.json",
]
ORDERS = {
    "in order": list(range(len(MIX))),
    "reversed": list(reversed(range(len(MIX)))),
    "shuffled, duplicated": [5, 2, 7, 0, 5, 3, 1, 6, 4, 2, 0, 3],
}


@pytest.mark.parametrize("order", ORDERS.values(), ids=ORDERS.keys())
def test_the_fake_ends_with_the_same_items_as_dynamodb_for_the_same_deliveries(aws: None, order: list[int]) -> None:
    import boto3

    from calsync.bookings.process import process_message
    from calsync.intake.delivery import message_attributes, message_body
    from tests.contract.conftest import REGION

    # Given the fixture deliveries, processed by the processors' own code in this order
    memory, moto = MemoryTable(), MotoTable(boto3.client("dynamodb", region_name=REGION))
    repositories: list[BookingsRepository] = [
        FakeBookingsRepository(memory),
        DynamoBookingsRepository(TABLE, moto.client),
    ]
    for repository in repositories:
        for index in order:
            delivery = delivery_for(event_body(MIX[index]), connection_id="acme", received_at=RECEIVED)
            attributes = {k: {"stringValue": v} for k, v in message_attributes(delivery).items()}
            result = process_message(
                message_body(delivery), attributes, repository, now=RECEIVED, archive_ttl=timedelta(days=90)
            )
            assert result.quarantined is None
    # Then the in-memory table holds exactly what DynamoDB holds (index keys aside), of every kind
    assert memory.items == moto.all_items()
    kinds = {item["type"] for item in memory.items.values()}
    assert kinds == {"delivery", "invitee", "event", "routing_form_submission", "other"}
