"""Erase one person from every calsync store (``calsync erase``).

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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from calsync.calendly.errors import CalendlyError, CalendlyNotFound, CalendlyPermissionError
from calsync.erasure.aws_sweep import REDACTED_COUNT, TableSweep, sweep_bodies, sweep_queue
from calsync.erasure.aws_tombstones import ErasureAudit, Tombstones

if TYPE_CHECKING:
    from calsync.calendly.client import CalendlyClient
    from calsync.intake.aws_bodies import S3DeliveryBodies

TABLE_STORES = ("invitees", "submissions", "archive", "quarantine", "other")


@dataclass
class ErasureReport:
    erased_at: datetime
    address_hash: str
    dry_run: bool
    counts: Counter[str] = field(default_factory=Counter)  # store (or queue) → items/messages
    calendly: dict[str, str] = field(default_factory=dict)  # connection id → Calendly's answer
    erasure_id: str | None = None

    def audit(self, principal: str) -> dict[str, Any]:
        """The audit record: no address, no name; the keyed hash links it to the tombstone."""
        return {
            "principal": principal,
            "address_hash": self.address_hash,
            "counts": dict(sorted(self.counts.items())),
            "calendly": dict(sorted(self.calendly.items())) or None,
        }


def calendly_outcome(client: CalendlyClient, email: str) -> str:
    """Ask Calendly to delete the invitee's data; what it answered, in words (never the address)."""
    try:
        client.delete_invitee_data([email])
    except (CalendlyPermissionError, CalendlyNotFound) as exc:
        return f"refused ({exc.status}): data-compliance deletion needs an Enterprise plan and an admin's token"
    except CalendlyError as exc:
        return f"failed ({exc.status if exc.status is not None else 'no response'}): {exc.title}"
    return "accepted (202): Calendly deletes asynchronously, within 7 days"


def erase(
    email: str,
    *,
    tombstones: Tombstones,
    sweep: TableSweep,
    audit: ErasureAudit,
    sqs: Any,
    queues: Mapping[str, str],
    principal: str,
    dry_run: bool = False,
    calendly: Sequence[tuple[str, CalendlyClient]] = (),
    wait_seconds: int = 1,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    advance: Callable[[], None] = lambda: None,
    bodies: S3DeliveryBodies | None = None,
) -> ErasureReport:
    """``queues``: name → URL of every queue whose messages may carry the address; ``bodies``:
    the delivery-bodies bucket (the sweep reads it too, for items that keep a body's key)."""
    erased_at = now()
    report = ErasureReport(erased_at, tombstones.address_hash(email), dry_run)
    if not dry_run:
        tombstones.put(email, erased_at)
    for name, url in sorted(queues.items()):
        found = sweep_queue(sqs, url, email, remove=not dry_run, wait_seconds=wait_seconds, bodies=bodies)
        if found:
            report.counts[f"queue {name}"] += found
    found_items = sweep.find(email)
    for item in found_items:
        report.counts[REDACTED_COUNT if item.redact else item.store] += 1
        if dry_run:
            continue
        if item.redact:
            sweep.redact(item, email)
        else:
            sweep.remove(item)
        advance()
    if bodies is not None:
        removed, redacted = sweep_bodies(bodies, email, remove=not dry_run)
        report.counts["bodies"] += removed
        report.counts[REDACTED_COUNT] += redacted
        report.counts = +report.counts  # no zero counts
    if dry_run:
        return report
    for connection_id, client in calendly:
        report.calendly[connection_id] = calendly_outcome(client, email)
    report.erasure_id = audit.record(erased_at=erased_at, record=report.audit(principal))
    return report
