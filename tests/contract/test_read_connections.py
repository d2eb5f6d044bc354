"""``ConnectionsReader``: FakeConnectionsReader and DynamoConnectionsReader (moto, connections
registered by the registry adapter, reports stored by the reconciler's state adapter) page the
connections alike (by id, resumed after an id, telling whether more follow), read one, and give
each one's newest completeness report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync import timefmt
from calsync.connections.aws_registry import DynamoConnectionRegistry
from calsync.connections.records import Connection
from calsync.read.aws_connections import DynamoConnectionsReader
from calsync.read.connections import ConnectionsReader
from calsync.reconcile.aws_state import DynamoReconcileState
from tests.contract.conftest import TABLE, MotoTable
from tests.fakes.read import FakeConnectionsReader
from tests.fakes.table import MemoryTable

AT = datetime(2026, 12, 1, 9, tzinfo=UTC)  # a fixed day: nothing here depends on today


def _connection(connection_id: str) -> Connection:
    return Connection(
        connection_id=connection_id,
        kind="oauth",
        status="active",
        organization="https://api.calendly.com/organizations/ORG1",
        owner=None,
        callback_url=f"https://hooks.example.com/webhooks/{connection_id}",
        token_secret=f"calsync/test/tokens/{connection_id}",
        signing_key_secret=f"calsync/test/signing-keys/{connection_id}",
        token_expires_at=int(AT.timestamp()),
        created_at=timefmt.iso_z(AT),
    )


def _report(connection_id: str, hours: int) -> dict[str, Any]:
    return {
        "connection_id": connection_id,
        "reason": f"run {hours}",
        "started_at": timefmt.sortable(AT + timedelta(hours=hours)),
        "complete": True,
        "stopped": None,
        "api_calls": hours,
        "events_seen": hours,
    }


@dataclass(frozen=True)
class Given:
    port: ConnectionsReader
    table: MemoryTable | MotoTable

    def connection(self, connection_id: str, *reports: dict[str, Any]) -> None:
        if isinstance(self.port, FakeConnectionsReader):
            self.port.add(_connection(connection_id), *reports)
            return
        assert isinstance(self.table, MotoTable)
        DynamoConnectionRegistry(TABLE, self.table.client).register(_connection(connection_id), now=timefmt.iso_z(AT))
        state = DynamoReconcileState(TABLE, self.table.client)
        for report in reports:
            state.put_report(report)


@pytest.fixture
def given(backend: str, table: MemoryTable | MotoTable) -> Given:
    if backend == "fake":
        return Given(FakeConnectionsReader(), table)
    assert isinstance(table, MotoTable)
    return Given(DynamoConnectionsReader(TABLE, table.client), table)


def test_pages_by_id_resume_after_the_last_one(given: Given) -> None:
    # Given five connections registered out of order
    for connection_id in ("c3", "c1", "c5", "c2", "c4"):
        given.connection(connection_id)
    # When they are read two at a time, each page resuming after the last id
    first, more1 = given.port.page(after=None, limit=2)
    second, more2 = given.port.page(after=first[-1].connection_id, limit=2)
    third, more3 = given.port.page(after=second[-1].connection_id, limit=2)
    # Then they come by id, each once, and the last page says none follows
    assert [c.connection_id for c in (*first, *second, *third)] == ["c1", "c2", "c3", "c4", "c5"]
    assert (more1, more2, more3) == (True, True, False)


def test_a_full_last_page_says_none_follows(given: Given) -> None:
    for connection_id in ("a", "b"):
        given.connection(connection_id)
    found, more = given.port.page(after=None, limit=2)
    assert [c.connection_id for c in found] == ["a", "b"]
    assert more is False


def test_one_connection_and_its_newest_report(given: Given) -> None:
    # Given acme with two reports, and beta with none
    given.connection("acme", _report("acme", 1), _report("acme", 2))
    given.connection("beta")
    # When each is read
    acme = given.port.get("acme")
    # Then acme is found with its newest report, beta without one, an unknown id not at all
    assert acme is not None
    assert acme.token_expires_at == int(AT.timestamp())
    latest = given.port.latest_report("acme")
    assert latest is not None
    assert latest["reason"] == "run 2"
    assert latest["events_seen"] == 2
    assert given.port.latest_report("beta") is None
    assert given.port.get("nobody") is None
