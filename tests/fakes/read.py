"""The read path's port in memory: ``TenantBookings`` over a list of stored bookings per
connection, ordered by start time, then event uuid, then invitee uuid (as the table's index
will be), honouring every filter and the position a page resumes after."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from calsync import timefmt
from calsync.connections.records import Connection
from calsync.read.cursor import Position


def _order(start_time: str, event_uuid: str, invitee_uuid: str) -> tuple[datetime, str, str]:
    return timefmt.parse(start_time), event_uuid, invitee_uuid


def _position(item: Mapping[str, Any]) -> Position:
    return Position(item["start_time"], item["event_uuid"], item["invitee_uuid"])


class FakeTenantBookings:
    def __init__(self) -> None:
        self.stored: dict[str, list[dict[str, Any]]] = {}
        self.calls: list[dict[str, Any]] = []

    def add(self, connection_id: str, booking: Mapping[str, Any]) -> None:
        self.stored.setdefault(connection_id, []).append(dict(booking))

    def page(
        self,
        connection_id: str,
        *,
        start_after: datetime | None,
        start_before: datetime | None,
        status: str | None,
        email: str | None,
        after: Position | None,
        limit: int,
    ) -> tuple[Sequence[Mapping[str, Any]], Position | None]:
        self.calls.append({"connection_id": connection_id, "after": after, "limit": limit})

        def wanted(item: Mapping[str, Any]) -> bool:
            start = timefmt.parse(item["start_time"])
            return (
                (start_after is None or start > start_after)
                and (start_before is None or start < start_before)
                and (status is None or item.get("status") == status)
                and (email is None or item.get("email") == email)
            )

        def key(item: Mapping[str, Any]) -> tuple[datetime, str, str]:
            return _order(item["start_time"], item["event_uuid"], item["invitee_uuid"])

        found = sorted(filter(wanted, self.stored.get(connection_id, [])), key=key)
        if after is not None:
            resume = _order(after.start_time, after.event_uuid, after.invitee_uuid)
            found = [item for item in found if key(item) > resume]
        page = found[:limit]
        return page, (_position(page[-1]) if len(found) > limit else None)


class FakeConnectionsReader:
    """``ConnectionsReader`` over connections and completeness reports (newest last) in memory."""

    def __init__(self) -> None:
        self.connections: dict[str, Connection] = {}
        self.reports: dict[str, list[dict[str, Any]]] = {}

    def add(self, connection: Connection, *reports: Mapping[str, Any]) -> None:
        self.connections[connection.connection_id] = connection
        self.reports.setdefault(connection.connection_id, []).extend(dict(r) for r in reports)

    def page(self, *, after: str | None, limit: int) -> tuple[Sequence[Connection], bool]:
        ids = sorted(i for i in self.connections if after is None or i > after)
        return [self.connections[i] for i in ids[:limit]], len(ids) > limit

    def get(self, connection_id: str) -> Connection | None:
        return self.connections.get(connection_id)

    def latest_report(self, connection_id: str) -> Mapping[str, Any] | None:
        found = self.reports.get(connection_id)
        return found[-1] if found else None
