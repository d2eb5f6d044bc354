"""Erasure's records: FakeTombstones / DynamoTombstones and FakeErasureAudit / ErasureAudit (moto)
behave alike."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from calsync.aws import keys
from calsync.aws.secret_json import CachedJsonSecret
from calsync.erasure.aws_tombstones import DynamoTombstones, ErasureAudit
from calsync.erasure.rules import address_hash
from tests.contract.conftest import TABLE, MotoTable, moto_client
from tests.fakes.erasure import FakeErasureAudit, FakeTombstones
from tests.fakes.table import MemoryTable

KEY = "erasure-test-key"
NOV_25 = datetime(2026, 11, 25, 10, tzinfo=UTC)
DEC_1 = datetime(2026, 12, 1, 10, tzinfo=UTC)


@pytest.fixture
def tombstones(table: MemoryTable | MotoTable, request: pytest.FixtureRequest) -> FakeTombstones | DynamoTombstones:
    if isinstance(table, MemoryTable):
        return FakeTombstones(KEY, table)
    secrets = moto_client("secretsmanager", request)
    secrets.create_secret(Name="calsync/test/erasure-key", SecretString=json.dumps({"key": KEY}))
    return DynamoTombstones(TABLE, CachedJsonSecret("calsync/test/erasure-key", client=secrets), table.client)


def test_an_erased_address_stays_erased_for_data_dated_before_its_erasure(
    tombstones: FakeTombstones | DynamoTombstones, table: MemoryTable | MotoTable
) -> None:
    # Given Ada is not erased
    assert tombstones.erased_at("ada@example.com") is None
    assert tombstones.is_erased("ada@example.com", NOV_25) is False
    # When she is erased on Nov 25 (however her address is spelled)
    digest = tombstones.put(" Ada@Example.com", NOV_25)
    # Then only the keyed hash and the time are kept
    assert digest == address_hash(KEY.encode(), "ada@example.com")
    assert table.item(keys.tombstone(digest)) == {
        "type": "tombstone",
        "address_hash": digest,
        "erased_at": "2026-11-25T10:00:00.000000Z",
        "scope": "global",
    }
    # And data dated before the erasure is refused, data dated after it is not; Grace is untouched
    assert tombstones.is_erased("ada@example.com", datetime(2026, 11, 24, tzinfo=UTC)) is True
    assert tombstones.is_erased("ada@example.com", NOV_25) is False
    assert tombstones.is_erased("grace@example.com", datetime(2026, 11, 24, tzinfo=UTC)) is False


def test_a_later_erasure_moves_the_time_forward_and_an_earlier_one_changes_nothing(
    tombstones: FakeTombstones | DynamoTombstones,
) -> None:
    tombstones.put("ada@example.com", DEC_1)
    tombstones.put("ada@example.com", NOV_25)
    assert tombstones.erased_at("ada@example.com") == DEC_1
    later = datetime(2026, 12, 5, tzinfo=UTC)
    tombstones.put("ada@example.com", later)
    assert tombstones.erased_at("ada@example.com") == later


def test_a_connection_scoped_tombstone_refuses_that_connections_data_only(
    tombstones: FakeTombstones | DynamoTombstones, table: MemoryTable | MotoTable
) -> None:
    # Given Ada was erased from acme's data only on Nov 25
    digest = tombstones.put("ada@example.com", NOV_25, connection_id="acme")
    assert table.item(keys.tombstone(digest, "acme")) == {
        "type": "tombstone",
        "address_hash": digest,
        "erased_at": "2026-11-25T10:00:00.000000Z",
        "scope": "acme",
    }
    before = datetime(2026, 11, 24, tzinfo=UTC)
    # Then acme's data from before is refused, globex's is not; data of no known connection is
    assert tombstones.erased_in("acme")("ada@example.com", before) is True
    assert tombstones.erased_in("globex")("ada@example.com", before) is False
    assert tombstones.erased_in(None)("ada@example.com", before) is True
    # And once she is erased everywhere, globex's is refused too
    tombstones.put("ada@example.com", NOV_25)
    assert tombstones.erased_in("globex")("ada@example.com", before) is True
    assert tombstones.erasures("ada@example.com") == {"acme": NOV_25, "global": NOV_25}


@pytest.fixture
def audit(table: MemoryTable | MotoTable) -> FakeErasureAudit | ErasureAudit:
    return FakeErasureAudit(table) if isinstance(table, MemoryTable) else ErasureAudit(TABLE, table.client)


def test_each_erasure_leaves_one_audit_record_oldest_first(audit: FakeErasureAudit | ErasureAudit) -> None:
    second = audit.record(erased_at=DEC_1, record={"by": "ops", "counts": {"invitees": 2}, "calendly": None})
    first = audit.record(erased_at=NOV_25, record={"by": "ops", "counts": {}, "calendly": "202"})
    assert audit.records() == [
        {
            "type": "erasure",
            "erasure_id": first,
            "erased_at": "2026-11-25T10:00:00.000000Z",
            "by": "ops",
            "counts": {},
            "calendly": "202",
        },
        {
            "type": "erasure",
            "erasure_id": second,
            "erased_at": "2026-12-01T10:00:00.000000Z",
            "by": "ops",
            "counts": {"invitees": 2},
        },
    ]
