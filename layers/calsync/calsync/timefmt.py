"""UTC timestamps as calsync writes and reads them: the one home of their spellings.

Two spellings, each with its reason:

- ``iso_z``: ISO 8601 in UTC with ``Z`` (``2026-12-01T10:00:00Z``; microseconds only when
  there are any): times in records, registry items, reports' gaps and events.
- ``sortable``: fixed width, microseconds always (``2026-12-01T10:00:00.000000Z``): index sort
  keys, versions, erasure and report records and Calendly API parameters, wherever text order
  must be time order.

A naive ``datetime`` means UTC (as Lambda's clock and Calendly's payloads do).
"""

from __future__ import annotations

from datetime import UTC, datetime

SORTABLE = "%Y-%m-%dT%H:%M:%S.%fZ"


def utc(at: datetime) -> datetime:
    """``at`` in UTC; a naive time is taken as UTC already."""
    return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)


def iso_z(at: datetime) -> str:
    return utc(at).isoformat().replace("+00:00", "Z")


def sortable(at: datetime) -> str:
    return utc(at).strftime(SORTABLE)


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def parse(text: str) -> datetime:
    """Either spelling (or any ISO 8601 time with a zone) back to an aware ``datetime``."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_optional(value: object, *, naive_is_utc: bool = True) -> datetime | None:
    """``value`` as an aware ``datetime`` when it is a time's text, else None (not text, empty, not
    a time); a naive time is taken as UTC, or with ``naive_is_utc=False`` as no time at all."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = parse(value)
    except ValueError:
        return None
    if parsed.tzinfo:
        return parsed
    return parsed.replace(tzinfo=UTC) if naive_is_utc else None
