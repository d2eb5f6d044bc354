"""Meeting recaps and contacts of a connection as the read API shows them (the OpenAPI
``MeetingRecap`` and ``Contact`` schemas): the views, the port a store implements and the use
cases the routes call. Deleted recaps and contacts are not shown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, field_validator

from calsync.read.bookings import address, parse_query


class RecapView(BaseModel):
    """A Notetaker meeting recap of a scheduled event (its text is personal data)."""

    model_config = ConfigDict(frozen=True)

    uri: str | None
    status: str | None
    summary_md: str | None
    action_items_md: str | None
    discussion_md: str | None
    created_at: str | None
    updated_at: str | None

    @classmethod
    def from_stored(cls, item: Mapping[str, Any]) -> RecapView:
        return cls(**{name: _text(item, name) for name in cls.model_fields})


class ContactView(BaseModel):
    """A Calendly contact of the connection."""

    model_config = ConfigDict(frozen=True)

    uri: str | None
    name: str | None
    first_name: str | None
    last_name: str | None
    emails: list[str]
    timezone: str | None
    company: str | None
    job_title: str | None
    owner: str | None
    created_at: str | None
    updated_at: str | None

    @classmethod
    def from_stored(cls, item: Mapping[str, Any]) -> ContactView:
        emails = [e for e in item.get("emails") or [] if isinstance(e, str)]
        return cls(emails=emails, **{name: _text(item, name) for name in cls.model_fields if name != "emails"})


def _text(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value if isinstance(value, str) else None


class KindsReader(Protocol):
    def recaps(self, connection_id: str, event_uuid: str) -> Sequence[Mapping[str, Any]]:
        """The stored recaps of one scheduled event of the connection (deleted ones included)."""
        ...

    def contacts(self, connection_id: str, email: str) -> Sequence[Mapping[str, Any]]:
        """The connection's stored contacts with this (lower-cased) address."""
        ...

    def event_type_names(self, connection_id: str) -> Mapping[str, str]:
        """The current name of each of the connection's stored event types, by URI."""
        ...


def with_current_names(bookings: Sequence[dict[str, Any]], names: Mapping[str, str]) -> None:
    """Each booking (a ``BookingView`` as JSON) with its event type's current name as
    ``event_name`` when the event type is stored: a renamed event type shows its new name on
    bookings made before; a booking of an unknown event type keeps the name it was booked under."""
    for booking in bookings:
        name = names.get(str(booking.get("event_type")))
        if name is not None:
            booking["event_name"] = name


def event_recaps(port: KindsReader, connection_id: str, event_uuid: str) -> list[RecapView]:
    found = [item for item in port.recaps(connection_id, event_uuid) if not item.get("deleted")]
    return [RecapView.from_stored(item) for item in sorted(found, key=lambda i: str(i.get("uri") or ""))]


class ContactsQuery(BaseModel):
    """``GET /v1/connections/{connection_id}/contacts``'s query: ``email`` (required)."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    email: str

    # The bookings' address rules: stripped, lower case, no control, invisible or space character
    _email = field_validator("email", mode="before")(address)

    @classmethod
    def parse(cls, params: Mapping[str, object]) -> ContactsQuery:
        return parse_query(cls, params)


def contacts_by_email(port: KindsReader, connection_id: str, query: ContactsQuery) -> dict[str, Any]:
    """``GET /v1/connections/{connection_id}/contacts?email=``: ``{"contacts": [...]}``."""
    found = [item for item in port.contacts(connection_id, query.email) if not item.get("deleted")]
    views = [ContactView.from_stored(item) for item in sorted(found, key=lambda i: str(i.get("uri") or ""))]
    return {"contacts": [view.model_dump(mode="json") for view in views]}
