"""What the migration steps need from the store (``aws_migrations`` implements them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class IndexCandidate:
    """An invitee item as the booking-index step sees it: its table key, its connection and
    whether it already carries its index key."""

    pk: str
    sk: str
    tenant: str | None
    indexed: bool
    start_time: str | None = None  # its own start, when stored (the GSI2 step keys by it)


type Position = Mapping[str, Any]  # where a segment's scan goes on (opaque to the domain)


class Indexed(StrEnum):
    """What one conditional write of an invitee's index key found."""

    UPDATED = "updated"
    ALREADY_DONE = "already_done"  # a processor (or another run) wrote it first
    GONE = "gone"  # the item was removed meanwhile (an erasure): nothing is written
    NO_TENANT = "skipped_without_tenant"


class BookingIndex(Protocol):
    """The invitees of the bookings table, a page of one scan segment at a time, and their
    by-uuid index key (GSI3PK)."""

    def invitees(
        self, segment: int, segments: int, after: Position | None
    ) -> tuple[list[IndexCandidate], Position | None]: ...

    def index(self, invitee: IndexCandidate) -> Indexed: ...


class MigrationLog(Protocol):
    """Which steps have completed (name → when, ISO 8601), and recording one."""

    def completed(self) -> dict[str, str]: ...

    def record(self, step: str, completed_at: str, counts: Mapping[str, int]) -> None: ...
