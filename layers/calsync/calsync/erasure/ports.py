"""What erasing a person needs (``erase.py``); ``compose.erasure`` passes the AWS adapters
(``aws_tombstones``, ``aws_sweep``)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

REDACTED_COUNT = "redacted"  # the report's count of items redacted, not removed


class Tombstones(Protocol):
    def address_hash(self, email: str) -> str:
        """The keyed hash of the address (the tombstone's and the audit record's only trace)."""
        ...

    def put(self, email: str, at: datetime, connection_id: str | None = None) -> str:
        """Tombstone the address at ``at``, everywhere or (``connection_id``) in that
        connection's data only; the hash it keeps."""
        ...


class FoundItem(Protocol):
    """A stored item carrying the address: the person's own (removed) or someone else's naming
    them (``redact``: the address replaced)."""

    @property
    def store(self) -> str: ...

    @property
    def redact(self) -> bool: ...

    @property
    def body_key(self) -> str | None:
        """Where the item's body is kept in the delivery-bodies bucket, if it is kept there."""
        ...


class ItemSweep[F: FoundItem](Protocol):
    """The table's items carrying the address (``connection_id``: only that connection's)."""

    def find(self, email: str, connection_id: str | None = None) -> Sequence[F]: ...

    def remove(self, found: F) -> None: ...

    def redact(self, found: F, email: str) -> None: ...


class QueueSweep(Protocol):
    def sweep(self, email: str, *, remove: bool, connection_id: str | None = None) -> Mapping[str, int]:
        """The waiting messages carrying the address (``connection_id``: only that connection's),
        per queue name (deleted unless ``remove`` is false; the others left to be received)."""
        ...


class BodySweep(Protocol):
    def sweep(self, email: str, *, remove: bool, only: Collection[str] | None = None) -> tuple[int, int]:
        """The kept bodies carrying the address (``only``: among these keys): the person's own
        deleted, someone else's redacted (unless ``remove`` is false); how many of each."""
        ...


class Audit(Protocol):
    def record(self, *, erased_at: datetime, record: Mapping[str, Any], erasure_id: str | None = None) -> str:
        """Keep the PII-free audit record (under ``erasure_id`` when given: written again, the
        same record); its id."""
        ...

    def records(self) -> list[dict[str, Any]]:
        """Every erasure's record, oldest first."""
        ...


class CalendlyDeletion(Protocol):
    def delete_invitee_data(self, emails: Iterable[str]) -> None:
        """Calendly's data-compliance deletion (raises a ``CalendlyError`` when refused)."""
        ...
