"""``BookingLookup`` and ``EventReader``: FakeTenantItems and DynamoTenantItems (moto, bookings
stored by the bookings repository as the processors store them) find one booking by its invitee
uuid and one event with all its invitees alike, and only under their own connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync import timefmt
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.bookings.records import EventSnapshot, InviteeRef, InviteeSnapshot
from calsync.read.aws_tenant_items import DynamoTenantItems
from calsync.read.bookings import get_booking
from calsync.read.events import get_event
from tests.contract.conftest import TABLE, MotoTable
from tests.fakes.read import FakeTenantItems
from tests.fakes.table import MemoryTable

API = "https://api.calendly.com"
AT = datetime(2026, 12, 1, 9, tzinfo=UTC)  # a fixed day: nothing here depends on today
VERSION = "2026-11-30T10:00:00.000000Z#0#aa"


@dataclass(frozen=True)
class Given:
    port: FakeTenantItems | DynamoTenantItems
    table: MemoryTable | MotoTable

    def event(self, event: str, *invitees: str, connection: str = "acme", hours: float = 1) -> None:
        start = timefmt.iso_z(AT + timedelta(hours=hours))
        end = timefmt.iso_z(AT + timedelta(hours=hours, minutes=30))
        state = {
            "uri": f"{API}/scheduled_events/{event}",
            "tenant": connection,
            "name": "Demo",
            "status": "active",
            "start_time": start,
            "end_time": end,
            "event_type": f"{API}/event_types/T1",
        }

        def invitee(uuid: str) -> dict[str, Any]:
            uri = f"{API}/scheduled_events/{event}/invitees/{uuid}"
            return {"uri": uri, "tenant": connection, "status": "active", "email": f"{uuid}@example.com", "name": uuid}

        if isinstance(self.port, FakeTenantItems):
            event_view = {"event_uuid": event, **state}
            self.port.add(connection, event_view, *({"invitee_uuid": u, **invitee(u), "v": VERSION} for u in invitees))
            return
        repository = DynamoBookingsRepository(TABLE, self.port.client)
        repository.upsert_event(EventSnapshot(event, VERSION, connection, start, state))
        for uuid in invitees:
            repository.upsert_invitee(
                InviteeSnapshot(
                    ref=InviteeRef(event, uuid),
                    version=VERSION,
                    email=f"{uuid}@example.com",
                    start_time=start,
                    state=invitee(uuid),
                    facts={"event_name": "Demo", "start_time": start, "end_time": end},
                )
            )


@pytest.fixture
def given(table: MemoryTable | MotoTable) -> Given:
    if isinstance(table, MemoryTable):
        return Given(FakeTenantItems(), table)
    return Given(DynamoTenantItems(TABLE, table.client), table)


def test_a_booking_is_found_by_its_invitee_uuid_joined_with_its_event(given: Given) -> None:
    given.event("EV1", "IN2", "IN1")
    view = get_booking(given.port, "acme", "IN1")
    assert view is not None
    assert view.model_dump() | {"version": None} == {
        "invitee_uuid": "IN1",
        "event_uuid": "EV1",
        "status": "active",
        "start_time": "2026-12-01T10:00:00Z",
        "end_time": "2026-12-01T10:30:00Z",
        "event_name": "Demo",
        "event_type": f"{API}/event_types/T1",
        "name": "IN1",
        "email": "IN1@example.com",
        "no_show": None,
        "cancellation": None,
        "rescheduled_from": None,
        "rescheduled_to": None,
        "tracking": None,
        "version": None,
    }
    assert view.version == VERSION


def test_an_event_comes_with_all_its_invitees_in_uuid_order(given: Given) -> None:
    given.event("EV1", "IN2", "IN1", "IN3")
    view = get_event(given.port, "acme", "EV1")
    assert view is not None
    assert (view.name, view.status, view.start_time) == ("Demo", "active", "2026-12-01T10:00:00Z")
    assert [i.invitee_uuid for i in view.invitees] == ["IN1", "IN2", "IN3"]
    assert {i.event_type for i in view.invitees} == {f"{API}/event_types/T1"}


def test_another_connections_booking_and_event_are_not_found(given: Given) -> None:
    # Given beta's event and invitee / Then acme finds neither; beta finds both
    given.event("EV9", "IN9", connection="beta")
    assert get_booking(given.port, "acme", "IN9") is None
    assert get_event(given.port, "acme", "EV9") is None
    assert get_booking(given.port, "beta", "IN9") is not None
    assert get_event(given.port, "beta", "EV9") is not None


def test_unknown_ids_are_not_found(given: Given) -> None:
    given.event("EV1", "IN1")
    assert get_booking(given.port, "acme", "NOPE") is None
    assert get_event(given.port, "acme", "NOPE") is None
