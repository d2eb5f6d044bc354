"""A bookings page is one Query of GSI2 once ``calsync migrate``'s ``gsi2-tenant-invitees`` step is
recorded: the processors give each invitee GSI2 keys just after its event's, so events and their
invitees come interleaved in start order. Group events split across pages, a reschedule moves a
booking in the order, and bookings stored before the upgrade are read correctly before the step
(per event, as before) and after it (one Query)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from calsync import compose
from calsync.aws import keys
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.bookings.records import EventSnapshot, InviteeRef, InviteeSnapshot
from calsync.migrate import tenant_index
from calsync.migrate.steps import Options, chosen, migrate
from calsync.read.aws_tenant_bookings import DynamoTenantBookings
from calsync.read.cursor import Position
from tests.factories import event_json
from tests.integration.conftest import Pipeline

NOW = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)
API = "https://api.calendly.com"


def booking(event: str, invitee: str, hour: int, *, minute: int = 0) -> bytes:
    """An ``invitee.created`` for ``invitee`` of ``event`` (16-character ids), meeting on Dec 3 at hour:minute."""
    text = json.dumps(event_json("invitee_created.json"))
    text = text.replace("DEMOEVENT0000001", event).replace("INVITEE00000001", invitee)
    return text.replace("2026-12-01T15:00", f"2026-12-03T{hour:02d}:{minute:02d}").encode()


class Counting:
    """The DynamoDB client, every request the page makes written down as (operation, where)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, str]] = []

    def query(self, **request: Any) -> Any:
        self.calls.append(("Query", request.get("IndexName") or request["ExpressionAttributeValues"][":pk"]["S"]))
        return self.client.query(**request)

    def get_item(self, **request: Any) -> Any:
        self.calls.append(("GetItem", request["Key"]["PK"]["S"]))
        return self.client.get_item(**request)


def migrated(pipeline: Pipeline) -> list[dict[str, Any]]:
    stores = compose.migrations(pipeline.repo.table_name)
    return [r.as_dict() for r in migrate(stores, chosen(stores.log), options=Options(), now=lambda: NOW)]


def every_page(port: DynamoTenantBookings, limit: int, **filters: Any) -> Iterator[list[dict[str, Any]]]:
    after: Position | None = None
    query = {"start_after": None, "start_before": None, "status": None, "email": None, **filters}
    while True:
        items, after = port.page("acme", after=after, limit=limit, **query)
        yield list(items)
        if after is None:
            return


def uuids(items: list[dict[str, Any]]) -> list[str]:
    return [item["invitee_uuid"] for item in items]


@pytest.fixture
def many(pipeline: Pipeline) -> Pipeline:
    """acme: 15 one-invitee events (hours 0-4, minutes 0/20/40) and 5 group events of 4 invitees
    (hours 10-14), delivered out of order and processed; then ``calsync migrate``."""
    bodies = [booking(f"SINGLE{n:010d}", f"SOLO{n:011d}", n // 3, minute=20 * (n % 3)) for n in range(15)]
    for g in range(5):
        bodies += [booking(f"GROUP{g:011d}", f"GUEST{g:02d}{i:09d}", 10 + g) for i in (3, 1, 0, 2)]
    for body in reversed(bodies):
        assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    migrated(pipeline)
    return pipeline


def test_a_page_of_many_events_and_invitees_is_one_query(many: Pipeline) -> None:
    # Given 35 bookings of acme in 20 events, after the migration
    counting = Counting(many.repo.client)
    port = DynamoTenantBookings(many.repo.table_name, counting)
    # When one page of 100 is read
    items, after = port.page(
        "acme", start_after=None, start_before=None, status=None, email=None, after=None, limit=100
    )
    # Then every booking comes, by start, then event uuid, then invitee uuid, none follows
    expected = [f"SOLO{n:011d}" for n in range(15)] + [f"GUEST{g:02d}{i:09d}" for g in range(5) for i in range(4)]
    assert (uuids(list(items)), after) == (expected, None)
    assert {item["event_name"] for item in items} == {"Product demo"}
    assert all(item["event_type"] for item in items)
    # And it took one Query of GSI2, after the instance's one look at the migration record
    assert counting.calls == [("GetItem", keys.MIGRATIONS_PK), ("Query", keys.GSI2)]
    # And the next page of that instance is the Query alone
    counting.calls.clear()
    port.page("acme", start_after=None, start_before=None, status=None, email=None, after=None, limit=100)
    assert counting.calls == [("Query", keys.GSI2)]


def test_a_group_event_split_between_pages_resumes_after_its_last_invitee(many: Pipeline) -> None:
    # Given the bookings above, read 17 at a time (the first page ends inside group event 0)
    counting = Counting(many.repo.client)
    port = DynamoTenantBookings(many.repo.table_name, counting)
    pages = list(every_page(port, 17))
    # Then the pages hold every booking once, in order, the split event's invitees on both sides
    assert [len(p) for p in pages] == [17, 17, 1]
    assert uuids(pages[0])[-2:] == ["GUEST00000000000", "GUEST00000000001"]
    assert uuids(pages[1])[:2] == ["GUEST00000000002", "GUEST00000000003"]
    # And the invitees read without their event before them still show its name, type and start
    resumed = pages[1][0]
    assert (resumed["event_uuid"], resumed["event_name"], resumed["start_time"]) == (
        "GROUP00000000000",
        "Product demo",
        "2026-12-03T10:00:00Z",
    )
    assert resumed["event_type"]
    # And a page resuming inside an event costs one more Query (its event's item), no more
    assert counting.calls.count(("Query", keys.GSI2)) == 3
    assert counting.calls.count(("Query", "EVENT#GROUP00000000000")) == 1


def test_the_filters_are_applied_to_the_one_query(pipeline: Pipeline) -> None:
    # Given a group event of three: Ada, Ada who then canceled, and Grace; after the migration
    for invitee in ("GUESTA0000000001", "GUESTB0000000001"):
        assert pipeline.post(booking("GROUPEVENT000001", invitee, 9))["statusCode"] == 202
    grace = booking("GROUPEVENT000001", "GUESTC0000000001", 9).replace(b"ada@example.com", b"Grace@Example.com")
    assert pipeline.post(grace)["statusCode"] == 202
    text = json.dumps(event_json("invitee_canceled.json"))
    text = text.replace("DEMOEVENT0000001", "GROUPEVENT000001").replace("INVITEE00000001", "GUESTB0000000001")
    assert pipeline.post(text.replace("2026-12-01T15:00", "2026-12-03T09:00").encode())["statusCode"] == 202
    pipeline.drain()
    migrated(pipeline)
    port = DynamoTenantBookings(pipeline.repo.table_name, Counting(pipeline.repo.client))
    # Then status keeps the canceled one or the others, one booking a page, across pages
    assert [uuids(p) for p in every_page(port, 1, status="canceled")] == [["GUESTB0000000001"]]
    assert [uuids(p) for p in every_page(port, 1, status="active")] == [["GUESTA0000000001"], ["GUESTC0000000001"]]
    # And email keeps only that person's bookings (matched lower case), with status too
    assert [uuids(p) for p in every_page(port, 1, email="grace@example.com")] == [["GUESTC0000000001"]]
    assert [uuids(p) for p in every_page(port, 5, email="ada@example.com")] == [
        ["GUESTA0000000001", "GUESTB0000000001"]
    ]
    assert [uuids(p) for p in every_page(port, 5, email="ada@example.com", status="active")] == [["GUESTA0000000001"]]
    assert [uuids(p) for p in every_page(port, 5, email="nobody@example.com")] == [[]]


def test_a_reschedule_moves_the_booking_in_the_order(pipeline: Pipeline) -> None:
    # Given Grace's booking on Dec 2 10:00 rescheduled to Dec 3 10:00, and Ada's at 09:00 and 11:00 on Dec 3
    assert pipeline.post(booking("ADAEVENT00000009", "ADAINVITEE00009", 9))["statusCode"] == 202
    assert pipeline.post(booking("ADAEVENT00000011", "ADAINVITEE00011", 11))["statusCode"] == 202
    for name in ("invitee_rescheduled_created_new.json", "invitee_rescheduled_canceled_old.json"):
        assert pipeline.post(json.dumps(event_json(name)).encode())["statusCode"] == 202
    pipeline.drain()
    migrated(pipeline)
    port = DynamoTenantBookings(pipeline.repo.table_name, pipeline.repo.client)
    # When the active bookings are read
    (active,) = every_page(port, 50, status="active")
    # Then the rescheduled booking sits at its new start, between Ada's two, linked to the old one
    assert uuids(active) == ["ADAINVITEE00009", "INVITEE00000003", "ADAINVITEE00011"]
    assert active[1]["rescheduled_from"].endswith("INVITEE00000002")
    # And the old one stays at its old start, canceled
    (everything,) = every_page(port, 50)
    assert uuids(everything)[0] == "INVITEE00000002"
    assert everything[0]["status"] == "canceled"


def test_a_newer_version_with_another_start_moves_the_invitees_index_entry(pipeline: Pipeline) -> None:
    # Given an invitee stored at 09:00 and one at 10:00, after the migration
    repo = DynamoBookingsRepository(pipeline.repo.table_name, pipeline.repo.client)

    def store(event: str, invitee: str, start: str, version: str) -> None:
        state = {"uri": f"{API}/scheduled_events/{event}/invitees/{invitee}", "tenant": "acme", "status": "active"}
        repo.upsert_event(
            EventSnapshot(event, version, "acme", start, {"tenant": "acme", "start_time": start, "name": "Demo"})
        )
        facts = {"start_time": start}
        repo.upsert_invitee(InviteeSnapshot(InviteeRef(event, invitee), version, None, start, state, facts))

    store("EVENTA", "A1", "2026-12-03T09:00:00.000000Z", "2026-11-01T00:00:00.000000Z#0#aa")
    store("EVENTB", "B1", "2026-12-03T10:00:00.000000Z", "2026-11-01T00:00:00.000000Z#0#aa")
    migrated(pipeline)
    port = DynamoTenantBookings(pipeline.repo.table_name, pipeline.repo.client)
    assert uuids(next(every_page(port, 50))) == ["A1", "B1"]
    # When a newer version moves A's event to 11:00
    store("EVENTA", "A1", "2026-12-03T11:00:00.000000Z", "2026-11-02T00:00:00.000000Z#0#aa")
    # Then A comes after B, once
    (page,) = every_page(port, 50)
    assert uuids(page) == ["B1", "A1"]
    assert page[1]["start_time"] == "2026-12-03T11:00:00.000000Z"


def test_bookings_stored_before_the_upgrade_are_read_before_and_after_the_migration(pipeline: Pipeline) -> None:
    # Given five bookings stored by an earlier version (no invitee in GSI2), one of them 2020-shaped
    # (no start of its own), and one stored since the upgrade
    for hour in (5, 1, 3, 0, 4):
        assert pipeline.post(booking(f"OLDEVENT{hour:08d}", f"OLDGUEST{hour:08d}", hour))["statusCode"] == 202
    pipeline.drain()
    dynamodb = boto3.client("dynamodb")
    table = pipeline.repo.table_name
    for item in pipeline.items():
        if item["SK"].startswith("INVITEE#"):
            key = {"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}}
            dynamodb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE GSI2PK, GSI2SK")
    old_shape = {"PK": {"S": "EVENT#OLDEVENT00000003"}, "SK": {"S": "INVITEE#OLDGUEST00000003"}}
    dynamodb.update_item(TableName=table, Key=old_shape, UpdateExpression="REMOVE start_time")
    assert pipeline.post(booking("NEWEVENT00000002", "NEWGUEST00000002", 2))["statusCode"] == 202
    pipeline.drain()
    expected = ["OLDGUEST00000000", "OLDGUEST00000001", "NEWGUEST00000002", "OLDGUEST00000003"]
    expected += ["OLDGUEST00000004", "OLDGUEST00000005"]
    # When read before the migration: every booking, in order, each event's invitees from its partition
    counting = Counting(pipeline.repo.client)
    port = DynamoTenantBookings(table, counting)
    assert [u for p in every_page(port, 4) for u in uuids(p)] == expected
    assert ("Query", "EVENT#OLDEVENT00000001") in counting.calls
    # When the migration runs
    reports = {r["step"]: r for r in migrated(pipeline)}
    # Then it keyed the five old invitees (the 2020-shaped one by its event's start), not the new one
    step = reports[tenant_index.NAME]
    assert (step["scanned"], step["updated"], step["already_done"]) == (6, 5, 1)
    # And a fresh instance reads the same bookings in one Query a page
    counting = Counting(pipeline.repo.client)
    port = DynamoTenantBookings(table, counting)
    (page,) = every_page(port, 50)
    assert uuids(page) == expected
    assert counting.calls == [("GetItem", keys.MIGRATIONS_PK), ("Query", keys.GSI2)]
    # And a second run changes nothing
    stores = compose.migrations(table)
    (again,) = migrate(stores, chosen(stores.log, [tenant_index.NAME]), options=Options(), now=lambda: NOW)
    assert (again.counts["updated"], again.counts["already_done"]) == (0, 6)
