"""The read path's port in memory: ``TenantBookings`` over a list of stored bookings per
connection, ordered by start time, then event uuid, then invitee uuid (as the table's index
will be), honouring every filter and the position a page resumes after."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from calsync import compose, timefmt
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


class FakeTenantItems:
    """``BookingLookup`` and ``EventReader``: events (their attributes) and invitees (as a page
    gives each booking) per connection; another connection's are never found."""

    def __init__(self) -> None:
        self.events: dict[tuple[str, str], dict[str, Any]] = {}
        self.invitees: dict[tuple[str, str], dict[str, Any]] = {}

    def add(self, connection_id: str, event: Mapping[str, Any], *invitees: Mapping[str, Any]) -> None:
        self.events[(connection_id, event["event_uuid"])] = dict(event)
        for invitee in invitees:
            self.invitees[(connection_id, invitee["invitee_uuid"])] = {
                **invitee,
                "event_uuid": event["event_uuid"],
                "start_time": event.get("start_time"),
                "end_time": invitee.get("end_time") or event.get("end_time"),
                "event_name": invitee.get("event_name") or event.get("name"),
                "event_type": event.get("event_type"),
            }

    def booking(self, connection_id: str, invitee_uuid: str) -> Mapping[str, Any] | None:
        return self.invitees.get((connection_id, invitee_uuid))

    def event(
        self, connection_id: str, event_uuid: str
    ) -> tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]] | None:
        event = self.events.get((connection_id, event_uuid))
        if event is None:
            return None
        mine = [
            i for (c, _), i in sorted(self.invitees.items()) if c == connection_id and i["event_uuid"] == event_uuid
        ]
        return event, mine


class FakeReports:
    """``ReportsReader``: completeness reports per connection, oldest first."""

    def __init__(self) -> None:
        self.stored: dict[str, list[dict[str, Any]]] = {}

    def add(self, connection_id: str, *reports: Mapping[str, Any]) -> None:
        self.stored.setdefault(connection_id, []).extend(dict(r) for r in reports)

    def reports(self, connection_id: str, *, limit: int) -> Sequence[Mapping[str, Any]]:
        return list(reversed(self.stored.get(connection_id, [])))[:limit]


def read_api(
    bookings: FakeTenantBookings | None = None,
    *,
    exists: Callable[[str], bool],
    cursor_key: Callable[[], bytes],
    connections: FakeConnectionsReader | None = None,
    items: FakeTenantItems | None = None,
    reports: FakeReports | None = None,
) -> compose.ReadApi:
    """The read API's services over fakes (empty ones where none is given)."""
    items = items or FakeTenantItems()
    return compose.ReadApi(
        bookings=bookings or FakeTenantBookings(),
        exists=exists,
        cursor_key=cursor_key,
        connections=connections or FakeConnectionsReader(),
        booking=items,
        events=items,
        reports=reports or FakeReports(),
    )
