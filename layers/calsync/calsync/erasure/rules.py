"""Erasure, the domain side: which addresses a value carries, the keyed hash a tombstone keeps,
and whether a delivery is about a person erased after it was dated (then it is refused).

A delivery is dated by the resource it carries, never by when the webhook was sent: an invitee
or a routing-form submission by its creation (so a booking made after an erasure is kept). A
contact is the person's own address-book entry: every contact event naming an erased person is
refused whatever its dates (issue 21), so it is ``UNDATED``, like what calsync cannot date (a
meeting recap, whose booking's time it does not carry; an event kind it does not know; a body
that does not match its model): any tombstone of an address it carries refuses it.

Pure: the tombstones themselves are read through an ``is_erased(email, at)`` callable (the
store implements it with one GetItem), so processors, the reconciler and tests share the rule.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from calsync.calendly.models import InviteeNoShow
from calsync.intake.envelopes import (
    Envelope,
    InviteeEnvelope,
    InviteePayload,
    NoShowEnvelope,
    RoutingFormEnvelope,
)

type IsErased = Callable[[str, datetime], bool]
"""``is_erased(email, at)``: a tombstone exists for ``email`` and ``at`` is before its erasure."""

type ErasedIn = Callable[[str | None], IsErased]
"""``erased_in(connection_id)``: the ``IsErased`` check for data of that connection (the
tombstones ``applies`` picks); ``None`` for data of no known connection."""

GLOBAL = "global"
"""A tombstone's scope when the person was erased everywhere (every tombstone written before
scopes existed is one); otherwise its scope is the one connection id it was erased from."""

UNDATED = datetime.min.replace(tzinfo=UTC)
"""The date of a delivery calsync cannot date by its resource: before every erasure."""

# An address as it appears in text (JSON strings, answers, bodies): local part, "@", domain;
# matched only from the start of a run of address characters, so a long run without an "@"
# (a large body's data) is read once, not once per character (quadratic: minutes for 300 KB).
_ADDRESS = re.compile(r"(?<![^\s\"'<>,;:()\[\]{}\\@/])[^\s\"'<>,;:()\[\]{}\\@/]+@[^\s\"'<>,;:()\[\]{}\\@/]+")


def applies(scope: str, connection_id: str | None) -> bool:
    """Whether a tombstone of ``scope`` refuses data of ``connection_id``: a global one refuses
    everyone's data, a connection's only that connection's (a tenant's erasure never touches
    another tenant's records). Data of no known connection (``None``, a stray message) is
    refused by any tombstone: when in doubt, the person stays erased."""
    return scope in (GLOBAL, connection_id) or connection_id is None


def erased_at(erasures: Mapping[str, datetime], connection_id: str | None) -> datetime | None:
    """The latest erasure (scope → when) that applies to data of ``connection_id``, or None."""
    times = [at for scope, at in erasures.items() if applies(scope, connection_id)]
    return max(times) if times else None


def normalise(email: str) -> str:
    """The form an address is matched and hashed in: trimmed, lower case."""
    return email.strip().lower()


def address_hash(key: bytes, email: str) -> str:
    """The keyed hash a tombstone keeps (HMAC-SHA256 of the normalised address, hex): without
    the key nobody can test a guessed address against it."""
    return hmac.new(key, normalise(email).encode(), hashlib.sha256).hexdigest()


def addresses_in(value: object) -> set[str]:
    """Every address (normalised) in a JSON-shaped value: in any string, and in strings that
    are themselves JSON (a raw delivery body), so escaped characters are read as meant."""
    found: set[str] = set()
    if isinstance(value, str):
        found.update(normalise(token).rstrip(".") for token in _ADDRESS.findall(value))
        if value[:1] in ("{", "["):
            with contextlib.suppress(ValueError):
                found |= addresses_in(json.loads(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            found |= addresses_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            found |= addresses_in(item)
    return found


def carries(value: object, email: str) -> bool:
    """Whether ``value`` holds the address (case-insensitive, whole addresses only)."""
    return normalise(email) in addresses_in(value)


def subject(envelope: Envelope, body: str) -> tuple[set[str], datetime]:
    """Whom a delivery is about (the addresses it carries) and when that is dated: the
    booking's (or submission's) creation, so nothing made before an erasure comes back
    through a later change (a cancellation, a no-show) of it either."""
    match envelope:
        case InviteeEnvelope(payload=payload) | NoShowEnvelope(payload=InviteePayload() as payload):
            emails = {normalise(payload.email)} if payload.email else set()
            return emails, payload.created_at or payload.updated_at
        case NoShowEnvelope(payload=InviteeNoShow()):
            return set(), envelope.created_at  # carries only the invitee's URI
        case RoutingFormEnvelope(payload=submission):
            answers = [answer.answer for answer in submission.questions_and_answers]
            return addresses_in(answers), submission.created_at or submission.updated_at or envelope.created_at
        case _:
            return addresses_in(body), UNDATED


def refused(envelope: Envelope, body: str, is_erased: IsErased) -> bool:
    """True when the delivery is about an erased person and dated before the erasure (one
    tombstone read per address it carries; none for a delivery without one)."""
    emails, dated = subject(envelope, body)
    return any(is_erased(email, dated) for email in sorted(emails))


def refused_unread(body: str, is_erased: IsErased) -> bool:
    """For a body that could not be read as its event's model (or as a delivery at all): True
    when it carries the address of anyone erased, whatever its dates, so that a retry of a
    delivery quarantined before an erasure is never archived or quarantined again. Only such
    bodies pay for this (a regular expression over the text, one tombstone read per address)."""
    return any(is_erased(email, UNDATED) for email in sorted(addresses_in(body)))
