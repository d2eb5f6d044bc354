"""Lean writes (issue 12): the raw archive compressed, index entries holding keys only, no write
that can be known to change nothing — and everything still reads back as before."""

from __future__ import annotations

import hashlib
import json
import zlib

import pytest

from calsync.aws import keys
from calsync.aws.views import StoredDelivery
from calsync_dev.cost.mix import measure
from calsync_dev.cost.report import figures
from calsync_dev.cost.units import Table, item_size, write_units
from calsync_dev.template import load
from tests.factories import event_body
from tests.integration.conftest import Pipeline


def raw_item(pipeline: Pipeline, key: keys.Key) -> dict:
    return pipeline.repo.client.get_item(TableName=pipeline.repo.table_name, Key=key.dynamo())["Item"]


def test_an_archived_body_is_stored_compressed_in_one_write_unit_and_reads_back_exactly(pipeline: Pipeline) -> None:
    # Given a 2 KB delivery
    body = event_body("invitee_created.json")
    assert len(body) > 1024
    # When it is accepted and processed
    assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    # Then its archive item is under 1 KB (one write unit), without the body as text
    item = raw_item(pipeline, keys.delivery(hashlib.sha256(body).hexdigest()))
    assert write_units(item_size(item)) == 1
    assert "body" not in item
    # And the archive reads back the exact bytes received (replay and the DLQ tools read this)
    [archived] = pipeline.repo.archived()
    assert archived.body == body.decode()
    assert "body" in archived.attributes
    assert not any(isinstance(v, bytes | bytearray) for v in archived.attributes.values())


def test_an_archive_item_written_before_compression_still_reads_back(pipeline: Pipeline) -> None:
    # Given an archive item as calsync wrote it before (the body as a string)
    body = event_body("invitee_canceled.json").decode()
    sha = hashlib.sha256(body.encode()).hexdigest()
    pipeline.repo.client.put_item(
        TableName=pipeline.repo.table_name,
        Item={
            **keys.delivery(sha).dynamo(),
            "type": {"S": "delivery"},
            "event": {"S": "invitee.canceled"},
            "connection_id": {"S": "acme"},
            "received_at": {"S": "2026-11-01T10:00:00Z"},
            "body": {"S": body},
            "expires_at": {"N": "1900000000"},
        },
    )
    # When the archive is read
    [archived] = pipeline.repo.archived()
    # Then the body is the one stored
    assert isinstance(archived, StoredDelivery)
    assert archived.body == body
    assert archived.event == "invitee.canceled"


def test_a_compressed_body_is_plain_zlib_so_other_tools_can_read_it(pipeline: Pipeline) -> None:
    body = event_body("unknown_event.json")
    pipeline.post(body)
    pipeline.drain()
    item = raw_item(pipeline, keys.delivery(hashlib.sha256(body).hexdigest()))
    [value] = [v for v in item.values() if "B" in v]
    assert zlib.decompress(value["B"]) == body
    assert json.loads(zlib.decompress(value["B"]))["event"] == "availability_schedule.updated"


def test_the_mix_costs_at_most_3_write_units_per_delivery_to_store_plus_the_read_apis_indexes() -> None:
    # Given the cost mix (every kind, duplicates, a reschedule pair, a no-show, a routing form)
    # When it runs through the whole pipeline
    result = figures(measure())
    by_index = result["write_units_per_delivery_by_index"]
    # Then storing it (the table and the by-email index) averages ≤ 3 write units (issue 12's budget)
    assert by_index["table"] + by_index["GSI1"] <= 3
    # And the read API's indexes add at most 1.6 more (docs/cost.md): a booking's entry in the
    # by-connection index, rewritten with each invitee write so a page is one Query (GSI2, with the
    # events' entries), and its keys-only entry by invitee uuid, written once (GSI3)
    assert by_index["GSI2"] + by_index["GSI3"] <= 1.6
    assert result["per_delivery"]["dynamodb_write_units"] == pytest.approx(sum(by_index.values()))


def test_index_reads_still_return_whole_items_and_a_state_change_writes_no_index_entry(pipeline: Pipeline) -> None:
    # Given a booking (its event and invitee in the by-connection and by-email indexes)
    pipeline.post(event_body("invitee_created.json"))
    pipeline.drain()
    key = keys.invitee("DEMOEVENT0000001", "INVITEE00000001")
    before = raw_item(pipeline, key)
    # When it is canceled
    pipeline.post(event_body("invitee_canceled.json"))
    pipeline.drain()
    after = raw_item(pipeline, key)
    # Then the cancellation wrote the invitee item and no keys-only index entry (GSI1, GSI3); only
    # its GSI2 entry, which holds the whole item so a bookings page is one Query (issue 18's
    # trade-off: docs/cost.md)
    table = Table.from_template(load()["Resources"]["BookingsTable"]["Properties"])
    assert set(table.write(before, after, applied=True).indexes) == {"GSI2"}
    # And the by-email and by-connection reads still return whole items, in start order
    [booking] = pipeline.repo.bookings_by_email("ada@example.com")
    assert booking.status == "canceled"
    assert "questions_and_answers" in booking.attributes
    assert "timezone" in booking.attributes
    [event] = pipeline.repo.events_for_tenant("acme")
    assert event.event_uuid == "DEMOEVENT0000001"
    assert "location" in event.attributes
    assert "memberships" in event.attributes


def writes_of_the_last(bodies: list[bytes]) -> list[str]:
    """The DynamoDB writes the last of ``bodies`` caused (after the others were processed)."""
    before = measure([(f"{i}", b) for i, b in enumerate(bodies[:-1])]).writes
    after = measure([(f"{i}", b) for i, b in enumerate(bodies)]).writes
    assert after[: len(before)] == before
    return [what for _, what, _ in after[len(before) :]]


def test_a_redelivered_body_writes_no_booking_item() -> None:
    # Given a booking was delivered and stored
    body = event_body("invitee_created.json")
    # When Calendly delivers the same body again (a retry)
    writes = writes_of_the_last([body, body])
    # Then nothing but the archive's (failed, first-write-wins) put is written
    assert writes == ["PutItem (condition failed) delivery"]


def test_a_stale_copy_rewrites_neither_the_event_nor_the_invitee() -> None:
    # Given a booking was delivered and stored
    body = event_body("invitee_created.json")
    # When an older representation of it arrives (same scheduled event, older invitee state)
    stale = json.loads(body)
    stale["payload"]["updated_at"] = "2019-01-01T00:00:00.000000Z"
    writes = writes_of_the_last([body, json.dumps(stale).encode()])
    # Then only its archive item is written: no failed conditional write on either item
    assert writes == ["PutItem delivery"]


def test_a_reschedule_link_already_in_place_is_not_written_again() -> None:
    # Given both halves of a reschedule were stored (each links the other)
    old = event_body("invitee_rescheduled_canceled_old.json")
    new = event_body("invitee_rescheduled_created_new.json")
    # When the second half is delivered again, newly signed
    writes = writes_of_the_last([old, new, new])
    # Then no link, event or invitee write happens
    assert writes == ["PutItem (condition failed) delivery"]
