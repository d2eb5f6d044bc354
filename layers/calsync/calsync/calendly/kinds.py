"""Calendly's 2026 resources calsync keeps as typed data: event types (``event_type.*``),
contacts (Contacts API, ``contact.*``) and meeting recaps (Notetaker, ``meeting_recap.*``).

The shapes follow Calendly's documentation (docs/calendly-2026.md names the pages): a
``*.created``/``*.updated`` delivery carries the resource; ``contact.deleted`` and
``meeting_recap.deleted`` are tombstones carrying only the resource's ``uri`` and
``deleted_at``. Like every Calendly model here, unknown fields are ignored and anything the
documentation does not promise is optional. No I/O.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from calsync.calendly.models import CalendlyModel, EventType, Uri, UtcDatetime


class KindEvent(StrEnum):
    """The webhook events whose resources calsync stores as typed items."""

    EVENT_TYPE_CREATED = "event_type.created"
    EVENT_TYPE_UPDATED = "event_type.updated"
    EVENT_TYPE_DELETED = "event_type.deleted"
    CONTACT_CREATED = "contact.created"
    CONTACT_UPDATED = "contact.updated"
    CONTACT_DELETED = "contact.deleted"
    MEETING_RECAP_CREATED = "meeting_recap.created"
    MEETING_RECAP_UPDATED = "meeting_recap.updated"
    MEETING_RECAP_DELETED = "meeting_recap.deleted"

    @property
    def kind(self) -> str:
        """``event_type``, ``contact`` or ``meeting_recap``."""
        return self.value.split(".", 1)[0]

    @property
    def deleted(self) -> bool:
        return self.value.endswith(".deleted")


class Deleted(CalendlyModel):
    """A deletion tombstone: the resource's URI and when it was deleted."""

    uri: Uri
    deleted_at: UtcDatetime | None = None


class WebhookEventType(EventType):
    """An event type as ``event_type.*`` carries it (the ``GET /event_types`` item)."""


class Contact(CalendlyModel):
    """A Calendly contact (an address-book entry of the organization)."""

    uri: Uri
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    emails: list[str] = Field(default_factory=list)
    email: str | None = None
    timezone: str | None = None
    company: str | None = None
    job_title: str | None = None
    owner: Uri | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None

    @field_validator("emails", mode="before")
    @classmethod
    def _addresses(cls, value: Any) -> list[str]:
        """``emails`` as a list of addresses: Calendly documents a list of Email objects
        (``{"email": ...}``); plain strings are accepted too."""
        found: list[str] = []
        for entry in value if isinstance(value, list) else []:
            address = entry.get("email") if isinstance(entry, dict) else entry
            if isinstance(address, str) and address:
                found.append(address)
        return found

    def addresses(self) -> list[str]:
        """Every address of the contact, lower-cased, without repeats, in order."""
        seen: dict[str, None] = {}
        for address in [*self.emails, *([self.email] if self.email else [])]:
            seen.setdefault(address.strip().lower(), None)
        return list(seen)


class RecapAttendee(CalendlyModel):
    name: str | None = None
    email: str | None = None


class MeetingRecap(CalendlyModel):
    """A Notetaker meeting recap. ``event`` is the scheduled event's URI (``None`` for an
    external meeting); the highlights are Markdown text (personal data)."""

    uri: Uri
    event: Uri | None = None
    status: str | None = None
    summary_md: str | None = None
    action_items_md: str | None = None
    discussion_md: str | None = None
    attendees: list[RecapAttendee] = Field(default_factory=list)
    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
