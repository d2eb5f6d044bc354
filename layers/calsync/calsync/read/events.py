"""One scheduled event of a connection with all its invitees (the OpenAPI ``Event`` schema):
the view, the port a store implements and the use case a route (or ``calsync mcp``) calls."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from calsync.read.bookings import BookingView
from calsync.read.kinds import KindsReader, RecapView, event_recaps


class EventView(BaseModel):
    """A scheduled event as the API shows it; each invitee a ``BookingView``."""

    model_config = ConfigDict(frozen=True)

    event_uuid: str
    name: str | None
    event_type: str | None
    status: str | None
    start_time: str | None
    end_time: str | None
    invitees: list[BookingView]
    recaps: list[RecapView] = []  # its Notetaker meeting recaps (issue 21)


class EventReader(Protocol):
    """One scheduled event of one connection and its invitees."""

    def event(
        self, connection_id: str, event_uuid: str
    ) -> tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]] | None:
        """The event's attributes (``event_uuid``, ``name``, ``event_type``, ``status``,
        ``start_time``, ``end_time``) and its invitees' (as ``TenantBookings.page`` gives each
        booking) in invitee uuid order; ``None`` when the connection holds no such event
        (another connection's event is not found)."""
        ...


def get_event(
    port: EventReader, connection_id: str, event_uuid: str, kinds: KindsReader | None = None
) -> EventView | None:
    """``GET /v1/connections/{connection_id}/events/{event_uuid}``: the event with all its
    invitees and (given ``kinds``) its meeting recaps, or ``None`` (the route answers 404)."""
    found = port.event(connection_id, event_uuid)
    if found is None:
        return None
    event, invitees = found

    def text(name: str) -> str | None:
        value = event.get(name)
        return value if isinstance(value, str) else None

    return EventView(
        event_uuid=event_uuid,
        name=text("name"),
        event_type=text("event_type"),
        status=text("status"),
        start_time=text("start_time"),
        end_time=text("end_time"),
        invitees=[BookingView.from_stored(item) for item in invitees],
        recaps=event_recaps(kinds, connection_id, event_uuid) if kinds is not None else [],
    )
