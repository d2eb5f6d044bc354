"""The reconciler's storage ports: FakeStoredBookings / DynamoStoredBookings and
FakeReconcileState / DynamoReconcileState (moto) behave alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from calsync.aws import keys
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.bookings.records import (
    BookingsRepository,
    InviteeRef,
    InviteeSnapshot,
    Link,
    NoShowChange,
    SubmissionSnapshot,
)
from calsync.reconcile.aws_state import DynamoReconcileState, DynamoStoredBookings
from calsync.reconcile.ports import StoredBookings, StoredInvitee
from tests.contract.conftest import TABLE, MotoTable
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.reconcile import FakeReconcileState, FakeStoredBookings
from tests.fakes.table import MemoryTable

API = "https://api.calendly.com"
EVENT = f"{API}/scheduled_events/E1"
ADA = f"{EVENT}/invitees/I1"
GRACE = f"{EVENT}/invitees/I2"
V1 = "2026-12-01T10:00:00.000000Z#0#aa"


@pytest.fixture
def stored(table: MemoryTable | MotoTable) -> tuple[BookingsRepository, StoredBookings]:
    if isinstance(table, MemoryTable):
        return FakeBookingsRepository(table), FakeStoredBookings(table)
    repository = DynamoBookingsRepository(TABLE, table.client)
    return repository, DynamoStoredBookings(repository)


def test_the_stored_invitees_of_an_event_are_what_the_processors_wrote(
    stored: tuple[BookingsRepository, StoredBookings],
) -> None:
    repository, bookings = stored
    # Given Ada stored (canceled), Grace known only by her no-show, and a link-only item
    repository.upsert_invitee(
        InviteeSnapshot(
            InviteeRef("E1", "I1"),
            V1,
            "ada@example.com",
            None,
            {"uri": ADA, "status": "canceled", "updated_at": "2026-12-01T10:00:00.000000Z"},
            {},
        )
    )
    mark = {"uri": f"{API}/invitee_no_shows/N1", "created_at": "2026-12-01T11:00:00.000000Z"}
    repository.set_no_show(NoShowChange(InviteeRef("E1", "I2"), GRACE, V1, mark))
    repository.link(Link(InviteeRef("E1", "I3"), "rescheduled_from", ADA))
    # Then the reconciler compares against exactly these
    assert bookings.invitees_of(EVENT) == {
        ADA: StoredInvitee(ADA, "canceled", datetime(2026, 12, 1, 10, tzinfo=UTC), None, None),
        GRACE: StoredInvitee(GRACE, None, None, mark["uri"], datetime(2026, 12, 1, 11, tzinfo=UTC)),
    }
    assert bookings.invitees_of(f"{API}/scheduled_events/E9") == {}


def test_a_submission_is_found_on_its_own_or_under_its_submitters_event(
    stored: tuple[BookingsRepository, StoredBookings],
) -> None:
    repository, bookings = stored
    assert bookings.has_submission("S1", None) is False
    repository.upsert_submission(SubmissionSnapshot("S1", V1, None, {"uri": "S1"}))
    repository.upsert_submission(SubmissionSnapshot("S2", V1, InviteeRef("E1", "I1"), {"uri": "S2"}))
    assert bookings.has_submission("S1", None) is True
    assert bookings.has_submission("S1", InviteeRef("E1", "I1")) is True
    assert bookings.has_submission("S2", None) is False
    assert bookings.has_submission("S2", InviteeRef("E1", "I1")) is True


@pytest.fixture
def state(table: MemoryTable | MotoTable) -> FakeReconcileState | DynamoReconcileState:
    if isinstance(table, MemoryTable):
        return FakeReconcileState(table)
    return DynamoReconcileState(TABLE, table.client)


def test_the_cursor_lives_on_a_registered_connection_only(
    state: FakeReconcileState | DynamoReconcileState, table: MemoryTable | MotoTable
) -> None:
    cursor = {"window": "upcoming", "after": "2026-12-01T10:00:00Z", "seen": ["a", "b"], "n": 3}
    # Given no connection: the cursor is not kept (a removed connection is left alone)
    state.save_cursor("acme", cursor)
    assert state.cursor("acme") is None
    assert table.item(keys.connection("acme")) is None
    # Given the connection registered, the cursor is kept, replaced and removed
    table.put(keys.connection("acme"), {"type": "connection", "connection_id": "acme"})
    state.save_cursor("acme", cursor)
    assert state.cursor("acme") == cursor
    state.save_cursor("acme", {**cursor, "n": 4})
    assert state.cursor("acme") == {**cursor, "n": 4}
    state.save_cursor("acme", None)
    assert state.cursor("acme") is None
    assert table.item(keys.connection("acme")) == {"type": "connection", "connection_id": "acme"}


def test_the_latest_reports_come_newest_first(state: FakeReconcileState | DynamoReconcileState) -> None:
    for day in (1, 3, 2):
        state.put_report({"connection_id": "acme", "started_at": f"2026-12-0{day}T10:00:00+00:00", "repaired": day})
    state.put_report({"connection_id": "beta", "started_at": "2026-12-09T10:00:00+00:00", "repaired": 9})
    latest = state.reports("acme", limit=2)
    assert [report["repaired"] for report in latest] == [3, 2]
    assert all(isinstance(report.pop("expires_at"), int) for report in latest)
    assert latest[0] == {"connection_id": "acme", "started_at": "2026-12-03T10:00:00+00:00", "repaired": 3}
