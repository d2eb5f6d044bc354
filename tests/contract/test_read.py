"""``TenantBookings``: FakeTenantBookings and DynamoTenantBookings (moto, bookings stored by the
bookings repository as the processors store them) page a connection's bookings alike: ordered by
start, event uuid, invitee uuid; filtered by window, status and email; resumed after a position."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync import timefmt
from calsync.aws import keys
from calsync.aws.dynamo import serialise_item
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.bookings.records import EventSnapshot, InviteeRef, InviteeSnapshot
from calsync.migrate import tenant_index
from calsync.read.aws_tenant_bookings import DynamoTenantBookings
from calsync.read.bookings import BookingView, TenantBookings
from calsync.read.cursor import Position
from tests.contract.conftest import TABLE, MotoTable
from tests.fakes.read import FakeTenantBookings
from tests.fakes.table import MemoryTable

API = "https://api.calendly.com"
AT = datetime(2026, 12, 1, 9, tzinfo=UTC)  # a fixed day: nothing here depends on today
VERSION = "2026-11-30T10:00:00.000000Z#0#aa"


@dataclass(frozen=True)
class Given:
    """Bookings stored for a connection, the same way whichever backend."""

    port: TenantBookings
    table: MemoryTable | MotoTable

    def booking(
        self,
        event: str,
        invitee: str,
        *,
        hours: float,
        connection: str = "acme",
        status: str = "active",
        email: str = "ada@example.com",
    ) -> None:
        start = timefmt.iso_z(AT + timedelta(hours=hours))
        end = timefmt.iso_z(AT + timedelta(hours=hours, minutes=30))
        uri = f"{API}/scheduled_events/{event}/invitees/{invitee}"
        if isinstance(self.port, FakeTenantBookings):
            self.port.add(
                connection,
                {
                    "event_uuid": event,
                    "invitee_uuid": invitee,
                    "uri": uri,
                    "status": status,
                    "email": email,
                    "name": "Ada",
                    "tenant": connection,
                    "start_time": start,
                    "end_time": end,
                    "event_name": "Demo",
                    "event_type": f"{API}/event_types/T1",
                    "v": VERSION,
                },
            )
            return
        assert isinstance(self.table, MotoTable)
        repository = DynamoBookingsRepository(TABLE, self.table.client)
        repository.upsert_event(
            EventSnapshot(
                event_uuid=event,
                version=VERSION,
                tenant=connection,
                start_time=start,
                state={
                    "uri": f"{API}/scheduled_events/{event}",
                    "tenant": connection,
                    "name": "Demo",
                    "status": "active",
                    "start_time": start,
                    "end_time": end,
                    "event_type": f"{API}/event_types/T1",
                },
            )
        )
        repository.upsert_invitee(
            InviteeSnapshot(
                ref=InviteeRef(event, invitee),
                version=VERSION,
                email=email,
                start_time=start,
                state={"uri": uri, "tenant": connection, "status": status, "email": email, "name": "Ada"},
                facts={"event_name": "Demo", "start_time": start, "end_time": end},
            )
        )


def record_migrated(table: MotoTable) -> None:
    """As after ``calsync migrate``: the gsi2-tenant-invitees step recorded (a page is one Query)."""
    item = {
        **keys.migration(tenant_index.NAME).attributes(),
        "type": "migration",
        "completed_at": "2026-12-01T00:00:00Z",
    }
    table.client.put_item(TableName=TABLE, Item=serialise_item(item))


@pytest.fixture(params=["migrated", "not migrated"])
def given(table: MemoryTable | MotoTable, request: pytest.FixtureRequest) -> Given:
    """On moto, a table after ``calsync migrate`` (one GSI2 Query a page) and one upgraded but
    not yet migrated (each event's invitees from its partition): both page alike."""
    if isinstance(table, MemoryTable):
        if request.param != "migrated":
            pytest.skip("the fake has one mode")
        return Given(FakeTenantBookings(), table)
    if request.param == "migrated":
        record_migrated(table)
    return Given(DynamoTenantBookings(TABLE, table.client), table)


def page(
    port: TenantBookings, *, limit: int = 50, after: Position | None = None, connection: str = "acme", **filters: Any
) -> tuple[list[str], Position | None]:
    query: dict[str, Any] = {"start_after": None, "start_before": None, "status": None, "email": None, **filters}
    items, last = port.page(connection, after=after, limit=limit, **query)
    return [item["invitee_uuid"] for item in items], last


def every_page(port: TenantBookings, limit: int, **filters: Any) -> Iterator[list[str]]:
    after: Position | None = None
    while True:
        uuids, after = page(port, limit=limit, after=after, **filters)
        yield uuids
        if after is None:
            return


def test_bookings_come_in_start_order_across_events_with_each_one_as_the_api_shows_it(given: Given) -> None:
    # Given three events stored out of start order, and another connection's booking
    given.booking("E2", "I2", hours=2)
    given.booking("E3", "I3", hours=3)
    given.booking("E1", "I1", hours=1)
    given.booking("E0", "I0", hours=0, connection="other")
    # When the connection's first page is read
    items, last = given.port.page(
        "acme", start_after=None, start_before=None, status=None, email=None, after=None, limit=50
    )
    # Then its bookings come by start, with their event's name and type, and none follows
    assert [item["invitee_uuid"] for item in items] == ["I1", "I2", "I3"]
    assert last is None
    assert BookingView.from_stored(items[0]).model_dump() == {
        "invitee_uuid": "I1",
        "event_uuid": "E1",
        "status": "active",
        "start_time": timefmt.iso_z(AT + timedelta(hours=1)),
        "end_time": timefmt.iso_z(AT + timedelta(hours=1, minutes=30)),
        "event_name": "Demo",
        "event_type": f"{API}/event_types/T1",
        "name": "Ada",
        "email": "ada@example.com",
        "no_show": None,
        "cancellation": None,
        "rescheduled_from": None,
        "rescheduled_to": None,
        "tracking": None,
        "version": VERSION,
    }


def test_a_page_can_end_inside_an_event_and_the_next_resumes_after_its_last_invitee(given: Given) -> None:
    # Given a group event with three invitees at the same start as another event, and a later one
    for invitee in ("I3", "I1", "I2"):
        given.booking("EB", invitee, hours=1)
    given.booking("EA", "I9", hours=1)
    given.booking("EC", "I4", hours=2)
    # When pages of two are read, each after the position the previous one returned
    first, after = page(given.port, limit=2)
    # Then the first ends inside the group event, ordered by event uuid then invitee uuid
    assert (first, after) == (["I9", "I1"], Position(timefmt.iso_z(AT + timedelta(hours=1)), "EB", "I1"))
    second, after = page(given.port, limit=2, after=after)
    assert second == ["I2", "I3"]
    third, after = page(given.port, limit=2, after=after)
    assert (third, after) == (["I4"], None)


def test_a_page_that_takes_the_last_booking_says_none_follows(given: Given) -> None:
    given.booking("E1", "I1", hours=1)
    given.booking("E2", "I2", hours=2)
    assert page(given.port, limit=2) == (["I1", "I2"], None)
    assert page(given.port, limit=1) == (["I1"], Position(timefmt.iso_z(AT + timedelta(hours=1)), "E1", "I1"))
    assert page(given.port, connection="nobody") == ([], None)


def test_the_status_filter_keeps_only_bookings_in_that_status_across_pages(given: Given) -> None:
    given.booking("E1", "I1", hours=1, status="canceled")
    given.booking("E1", "I2", hours=1)
    given.booking("E2", "I3", hours=2, status="canceled")
    given.booking("E3", "I4", hours=3, status="canceled")
    assert list(every_page(given.port, 1, status="canceled")) == [["I1"], ["I3"], ["I4"]]
    assert page(given.port, status="active") == (["I2"], None)


def test_the_email_filter_keeps_only_that_persons_bookings(given: Given) -> None:
    given.booking("E1", "I1", hours=1, email="grace@example.com")
    given.booking("E1", "I2", hours=1)
    given.booking("E2", "I3", hours=2, email="grace@example.com")
    assert list(every_page(given.port, 1, email="grace@example.com")) == [["I1"], ["I3"]]
    assert page(given.port, email="nobody@example.com") == ([], None)


def test_the_start_window_excludes_both_of_its_bounds(given: Given) -> None:
    for hours in (1, 2, 3, 4):
        given.booking(f"E{hours}", f"I{hours}", hours=hours)
    window = {"start_after": AT + timedelta(hours=1), "start_before": AT + timedelta(hours=4)}
    assert page(given.port, **window) == (["I2", "I3"], None)
    assert list(every_page(given.port, 1, **window)) == [["I2"], ["I3"]]
    assert page(given.port, start_after=AT + timedelta(hours=3, minutes=59)) == (["I4"], None)


def test_walking_every_page_returns_every_booking_once_in_order(given: Given) -> None:
    for event, hours in (("E2", 1), ("E1", 1), ("E3", 2)):
        for invitee in ("a", "b", "c"):
            given.booking(event, f"{event}{invitee}", hours=hours)
    everything, last = page(given.port)
    assert last is None
    assert everything == ["E1a", "E1b", "E1c", "E2a", "E2b", "E2c", "E3a", "E3b", "E3c"]
    for limit in (1, 2, 4):
        walked = [uuid for uuids in every_page(given.port, limit) for uuid in uuids]
        assert walked == everything


class _Metered:
    """A DynamoDB client that prices each Query as DynamoDB does for an eventually consistent
    read (half a unit per 4 KB of the items it reads, rounded up per request), from the items'
    wire size (a little more than DynamoDB's own item size, so the estimate errs high). moto
    reports a flat 1.0 per request as ``ConsumedCapacity``, whatever was read."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.units = 0.0
        self.requests: list[dict[str, Any]] = []

    def query(self, **request: Any) -> Any:
        response = self.client.query(**request)
        self.requests.append(request)
        size = len(json.dumps(response.get("Items", []), separators=(",", ":")))
        self.units += 0.5 * max(1, math.ceil(size / 4096))
        return response

    def get_item(self, **request: Any) -> Any:
        response = self.client.get_item(**request)
        self.requests.append({"ConsistentRead": False, **request})
        self.units += 0.5 if request.get("ConsistentRead") is not True else 1.0
        return response


@pytest.mark.parametrize("migrated", [True, False], ids=["migrated", "not migrated"])
@pytest.mark.parametrize("backend", ["moto"])
def test_a_page_reads_at_most_one_read_unit_per_booking_returned(table: MotoTable, migrated: bool) -> None:
    # Given 60 single-invitee events (the worst case before the migration: one invitee Query
    # per booking) and 5 group events of 10 invitees
    if migrated:
        record_migrated(table)
    given = Given(DynamoTenantBookings(TABLE, table.client), table)
    for n in range(60):
        given.booking(f"E{n:03}", f"I{n:03}", hours=n)
    for n in range(5):
        for i in range(10):
            given.booking(f"G{n}", f"G{n}-{i:02}", hours=100 + n)
    metered = _Metered(table.client)
    port = DynamoTenantBookings(TABLE, metered)  # type: ignore[arg-type]  # a client in all it calls
    # When every page of 50 is read
    after: Position | None = None
    returned = 0
    while True:
        items, after = port.page(
            "acme", start_after=None, start_before=None, status=None, email=None, after=after, limit=50
        )
        returned += len(items)
        # Then each page reads eventually consistently, and what moto reports is one per request
        assert all(request["ConsistentRead"] is False for request in metered.requests)
        assert port.requests == len(metered.requests)
        metered.requests.clear()
        if after is None:
            break
    # And all the pages together cost at most one read unit per booking returned
    assert returned == 110
    assert metered.units <= returned
