"""``upsert_resource``: FakeBookingsRepository and DynamoBookingsRepository (moto) store event
types, contacts and meeting recaps the same way: replaced whole when newer, unchanged when not,
a recap found by its lookup key wherever it is stored."""

from __future__ import annotations

import pytest

from calsync.aws import keys
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.bookings.records import BookingsRepository, ResourceSnapshot
from tests.contract.conftest import TABLE, MotoTable
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.table import MemoryTable

T1, T2, T3 = (f"2026-12-01T10:0{n}:00.000000Z#0#aa" for n in (1, 2, 3))
URI = "https://api.calendly.com/contacts/C1"


@pytest.fixture
def repository(table: MemoryTable | MotoTable) -> BookingsRepository:
    if isinstance(table, MemoryTable):
        return FakeBookingsRepository(table)
    return DynamoBookingsRepository(TABLE, table.client)


def contact(version: str, **state: object) -> ResourceSnapshot:
    return ResourceSnapshot("contact", "acme", "C1", version, {"uri": URI, "tenant": "acme", **state})


def test_a_resource_is_replaced_whole_when_newer_and_unchanged_otherwise(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    assert repository.upsert_resource(contact(T2, name="Ada", emails=["ada@example.com"])) is True
    assert repository.upsert_resource(contact(T1, name="Older")) is False
    assert repository.upsert_resource(contact(T2, name="Ada", emails=["ada@example.com"])) is False
    assert repository.upsert_resource(contact(T3, deleted=True)) is True
    assert table.item(keys.resource("contact", "acme", "C1")) == {
        "type": "contact",
        "v": T3,
        "uri": URI,
        "tenant": "acme",
        "deleted": True,
    }


def test_a_recap_deletion_is_applied_where_the_recap_is_stored(
    repository: BookingsRepository, table: MemoryTable | MotoTable
) -> None:
    recap = ResourceSnapshot("meeting_recap", "acme", "R1", T1, {"summary_md": "text"}, event_uuid="E1")
    assert repository.upsert_resource(recap) is True
    deletion = ResourceSnapshot("meeting_recap", "acme", "R1", T2, {"deleted": True})
    assert repository.upsert_resource(deletion) is True
    stored = table.item(keys.resource("meeting_recap", "acme", "R1", "E1")) or {}
    assert {k: v for k, v in stored.items() if k != "GSI3PK"} == {
        "type": "meeting_recap",
        "v": T2,
        "deleted": True,
        "event_uuid": "E1",
    }
    assert table.item(keys.resource("meeting_recap", "acme", "R1")) is None
    # And the older recap, redelivered, does not come back
    assert repository.upsert_resource(recap) is False
