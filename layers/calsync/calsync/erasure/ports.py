"""What erasing a person needs (``erase.py``); ``compose.erasure`` passes the AWS adapters
(``aws_tombstones``, ``aws_sweep``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

REDACTED_COUNT = "redacted"  # the report's count of items redacted, not removed


class Tombstones(Protocol):
    def address_hash(self, email: str) -> str:
        """The keyed hash of the address (the tombstone's and the audit record's only trace)."""
        ...

    def put(self, email: str, at: datetime) -> str:
        """Tombstone the address at ``at``; the hash it keeps."""
        ...


class FoundItem(Protocol):
    """A stored item carrying the address: the person's own (removed) or someone else's naming
    them (``redact``: the address replaced)."""

    @property
    def store(self) -> str: ...

    @property
    def redact(self) -> bool: ...


class ItemSweep[F: FoundItem](Protocol):
    """The table's items carrying the address."""

    def find(self, email: str) -> Sequence[F]: ...

    def remove(self, found: F) -> None: ...

    def redact(self, found: F, email: str) -> None: ...


class QueueSweep(Protocol):
    def sweep(self, email: str, *, remove: bool) -> Mapping[str, int]:
        """The waiting messages carrying the address, per queue name (deleted unless ``remove``
        is false; the others left to be received)."""
        ...


class BodySweep(Protocol):
    def sweep(self, email: str, *, remove: bool) -> tuple[int, int]:
        """The kept bodies carrying the address: the person's own deleted, someone else's
        redacted (unless ``remove`` is false); how many of each."""
        ...


class Audit(Protocol):
    def record(self, *, erased_at: datetime, record: Mapping[str, Any]) -> str:
        """Keep the PII-free audit record; its id."""
        ...

    def records(self) -> list[dict[str, Any]]:
        """Every erasure's record, oldest first."""
        ...


class CalendlyDeletion(Protocol):
    def delete_invitee_data(self, emails: Iterable[str]) -> None:
        """Calendly's data-compliance deletion (raises a ``CalendlyError`` when refused)."""
        ...
