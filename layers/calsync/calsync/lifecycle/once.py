"""Each lifecycle event delivered once per consumer (Slack, the signed HTTP forwarder).

The publisher is at-least-once: a crash after putting part of a batch puts the same events
again, with the same ``event_id`` (and EventBridge and SQS may deliver a message twice). A
consumer claims the ``event_id`` in a ``Ledger`` before it sends, then confirms or releases:

1. ``claim``: a conditional write of a *pending* claim (holder: this queue message, until a
   lease runs out). It fails when the event was already sent (skip it, acknowledged) or another
   message holds a live lease (``ClaimHeld``: retried later, by then sent or released).
2. send.
3. on success ``confirm`` (the claim becomes *sent*); on failure ``release`` (the claim is
   deleted), so the queue's retry sends. Releasing is best effort: a claim left pending by a
   failed release, or by a crash, is taken over by the same message's retry at once (SQS
   redelivers a message only after its previous receive is over) and by any other message
   once the lease has run out.

Why claim before sending, not after: a claim written only after a successful send lets two
copies processed side by side both send, and a crash between send and claim sends again. A
pending claim keeps concurrent copies out; what remains is a crash (or a timeout) between the
send and the confirmation, where nobody can tell whether the endpoint got it: the retry sends
again (at least once, never zero times). A confirmation that fails after a successful send is
reported (``Delivered.UNCONFIRMED``) and the message acknowledged, as a retry would certainly send twice.

Claims expire (``CLAIM_TTL``) after the publisher's and the queues' retries are long over.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from calsync.errors import CalsyncError, DependencyUnavailable

CLAIM_TTL = timedelta(days=7)  # the consumers' DLQs keep 14 days, but a dead-lettered event never holds a claim
LEASE = timedelta(seconds=60)  # longer than a consumer function's timeout (20 s)


class Claim(StrEnum):
    TAKEN = "taken"  # this message may send
    SENT = "sent"  # the event was delivered before: skip it
    HELD = "held"  # another message holds a live claim: retry later


class Delivered(StrEnum):
    SENT = "sent"
    ALREADY = "already"  # sent before (a copy of the event): skipped
    UNCONFIRMED = "unconfirmed"  # sent, but the claim could not be marked sent (log it)


class ClaimHeld(CalsyncError):
    """Another message is delivering this event now; retry later (it will be sent or released)."""


class Ledger(Protocol):
    """One consumer's claims (``store.consumed`` keeps them in the bookings table)."""

    def claim(self, event_id: str, *, claimant: str, now: datetime) -> Claim: ...

    def confirm(self, event_id: str, *, claimant: str) -> None:
        """Mark the claim sent (raises ``DependencyUnavailable`` if the store failed)."""
        ...

    def release(self, event_id: str, *, claimant: str) -> None:
        """Delete this claimant's pending claim (raises ``DependencyUnavailable`` if the store failed)."""
        ...


def event_id_of(event: Mapping[str, Any]) -> str:
    """The lifecycle event's stable id (``detail.event_id``), else the bus event's own ``id``."""
    detail = event.get("detail")
    found = detail.get("event_id") if isinstance(detail, Mapping) else None
    return str(found or event.get("id") or "")


def deliver_once(
    event: Mapping[str, Any], send: Callable[[], object], *, ledger: Ledger, claimant: str, now: datetime
) -> Delivered:
    """Run ``send`` unless this event was delivered before. ``claimant`` names this attempt's
    message (the SQS message id). Raises what ``send`` raised (its claim released first), or
    ``ClaimHeld``, or ``DependencyUnavailable`` when the claim could not be written."""
    event_id = event_id_of(event)
    if not event_id:
        send()  # nothing to recognise a copy by
        return Delivered.SENT
    claim = ledger.claim(event_id, claimant=claimant, now=now)
    if claim is Claim.SENT:
        return Delivered.ALREADY
    if claim is Claim.HELD:
        raise ClaimHeld(f"event {event_id} is being delivered by another message")
    try:
        send()
    except Exception as exc:
        try:
            ledger.release(event_id, claimant=claimant)
        except DependencyUnavailable:
            exc.add_note("its claim was not released: this message's retry, or the lease's end, frees it")
        raise
    try:
        ledger.confirm(event_id, claimant=claimant)
    except DependencyUnavailable:
        # Sent: a retry would send again. The pending claim still keeps copies out until its lease ends.
        return Delivered.UNCONFIRMED
    return Delivered.SENT
