"""Erase one person from every calsync store: the operator use case behind ``calsync erase``
(and any function that erases), over the ports in ``ports.py``.

In this order, so that a run that fails halfway can simply be run again to finish:
1. the tombstone (processors refuse deliveries about the person dated before it from now on,
   so nothing in flight while this runs can bring them back);
2. messages waiting in the intake queues, their DLQs and the lifecycle consumers' queues;
3. table items carrying the address (the by-email index, then a full Scan): the person's own
   removed, someone else's naming them (a guest list, an answer, an event's location) redacted;
   then the delivery-bodies bucket (bodies too large for a queue message) the same way;
4. with ``calendly``, Calendly's own data-compliance deletion, once per connection;
5. the PII-free audit record (when, who, the hash, counts, Calendly's answers).
A dry run does none of it: it counts what would be removed.

With ``connection_id`` the erasure is a tenant's: the tombstone is scoped to that connection
(deliveries for other connections are stored as before) and only that connection's items,
queued messages and kept bodies are swept; other tenants' records are never read for removal.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from calsync.calendly.errors import CalendlyError, CalendlyNotFound, CalendlyPermissionError
from calsync.connections.records import Connection
from calsync.erasure.ports import (
    REDACTED_COUNT,
    Audit,
    BodySweep,
    CalendlyDeletion,
    ItemSweep,
    QueueSweep,
    Tombstones,
)
from calsync.erasure.rules import GLOBAL

__all__ = ["REDACTED_COUNT", "ErasureReport", "ErasureStores", "calendly_outcome", "erase", "one_per_organization"]


@dataclass(frozen=True, slots=True)
class ErasureStores:
    """Everywhere a person's data may be, and where the erasure leaves its records
    (``compose.erasure`` builds it)."""

    tombstones: Tombstones
    items: ItemSweep[Any]
    queues: QueueSweep
    audit: Audit
    bodies: BodySweep | None = None  # the delivery-bodies bucket, where one is configured


@dataclass
class ErasureReport:
    erased_at: datetime
    address_hash: str
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)  # store (or queue) → items/messages
    calendly: dict[str, str] = field(default_factory=dict)  # connection id → Calendly's answer
    erasure_id: str | None = None
    connection_id: str | None = None  # the scope: one connection, or everywhere (None)

    def audit(self, principal: str) -> dict[str, Any]:
        """The audit record: no address, no name; the keyed hash links it to the tombstone."""
        return {
            "principal": principal,
            "scope": self.connection_id or GLOBAL,
            "address_hash": self.address_hash,
            "counts": dict(sorted(self.counts.items())),
            "calendly": dict(sorted(self.calendly.items())) or None,
        }


def calendly_outcome(client: CalendlyDeletion, email: str) -> str:
    """Ask Calendly to delete the invitee's data; what it answered, in words (never the address)."""
    try:
        client.delete_invitee_data([email])
    except (CalendlyPermissionError, CalendlyNotFound) as exc:
        return f"refused ({exc.status}): data-compliance deletion needs an Enterprise plan and an admin's token"
    except CalendlyError as exc:
        return f"failed ({exc.status if exc.status is not None else 'no response'}): {exc.title}"
    return "accepted (202): Calendly deletes asynchronously, within 7 days"


def one_per_organization(connections: Iterable[Connection]) -> list[Connection]:
    """The connections to ask Calendly through: the first of each organization."""
    found: dict[str, Connection] = {}
    for connection in connections:
        found.setdefault(connection.organization, connection)
    return list(found.values())


def erase(
    email: str,
    stores: ErasureStores,
    *,
    principal: str,
    dry_run: bool = False,
    calendly: Sequence[tuple[str, CalendlyDeletion]] = (),
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    advance: Callable[[], None] = lambda: None,
    connection_id: str | None = None,
    erasure_id: str | None = None,
) -> ErasureReport:
    """``calendly``: (connection id, client) pairs to ask for Calendly's own deletion;
    ``advance`` is told of each table item removed or redacted (progress); ``connection_id``:
    erase from that connection's data only; ``erasure_id``: the audit record's id (a request's,
    so a run repeated writes the same record). Run again with the same ``now`` it finishes what
    a failed run left and changes nothing the first did (the tombstone keeps its time)."""
    erased_at = now()
    report = ErasureReport(erased_at, stores.tombstones.address_hash(email), dry_run, connection_id=connection_id)
    if not dry_run:
        stores.tombstones.put(email, erased_at, connection_id)
    swept = stores.queues.sweep(email, remove=not dry_run, connection_id=connection_id)
    for name, found in sorted(swept.items()):
        if found:
            report.counts[f"queue {name}"] += found
    items = stores.items.find(email, connection_id)
    # A tenant's erasure sweeps only the bodies its own items keep (the bucket's objects name no connection)
    only = None if connection_id is None else {key for item in items if (key := item.body_key)}
    for item in items:
        report.counts[REDACTED_COUNT if item.redact else item.store] += 1
        if dry_run:
            continue
        if item.redact:
            stores.items.redact(item, email)
        else:
            stores.items.remove(item)
        advance()
    if stores.bodies is not None:
        removed, redacted = stores.bodies.sweep(email, remove=not dry_run, only=only)
        report.counts["bodies"] += removed
        report.counts[REDACTED_COUNT] += redacted
        report.counts = +report.counts  # no zero counts
    if dry_run:
        return report
    for connection_id, client in calendly:
        report.calendly[connection_id] = calendly_outcome(client, email)
    report.erasure_id = stores.audit.record(erased_at=erased_at, record=report.audit(principal), erasure_id=erasure_id)
    return report
