"""Domain records the merge rules produce, and the repository port that persists them.

Every write of Calendly state carries a ``version``: a string that sorts in the order the
states happened (``updated_at``, then a rank so that ``canceled`` wins a tie over
``active``, then a digest of the content written, so that two different representations
with the same time and rank order the same way whatever arrives first, while a duplicate
is equal to what it repeats). A repository applies a write only if its version is newer
than the stored one, so any order and any duplication of deliveries converge to the same
state. Facts (an invitee's scheduled event, reschedule links) never change for an invitee
(a reschedule makes a new invitee), so they are added whatever the version: a fact only an
older representation carries is not lost when a newer one arrived first.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from calsync import timefmt
from calsync.intake.delivery import Delivery

_INVITEE_URI = re.compile(r"/scheduled_events/([^/?#]+)/invitees/([^/?#]+)/?$")
_LAST_SEGMENT = re.compile(r"/([^/?#]+)/?(?:[?#].*)?$")

STATUS_RANK = {"active": 0, "canceled": 1}


def content_digest(content: object) -> str:
    """A short digest of JSON-shaped content, independent of key order."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def version(at: datetime, rank: int = 0, *, content: object, before: datetime | None = None) -> str:
    """A lexically sortable version: optional coarser time, the time, the rank, then the
    digest of the content the version is written with (the deterministic tie-breaker).

    Versions stored before the digest existed end at the rank; one with a digest sorts
    after one without at the same time and rank, so a redelivery rewrites such an item
    once (with the same content) and the rank still decides between statuses."""
    stamp = timefmt.sortable(at)
    if before is not None:
        stamp = timefmt.sortable(before) + "|" + stamp
    return f"{stamp}#{rank}#{content_digest(content)}"


def stored_time(value: datetime | None) -> str | None:
    """A time as booking records keep it: ISO 8601 in UTC with ``Z``."""
    return timefmt.iso_z(value) if value is not None else None


def last_segment(uri: str) -> str | None:
    match = _LAST_SEGMENT.search(uri)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class InviteeRef:
    """Where an invitee lives: under its scheduled event, so one Query returns both."""

    event_uuid: str
    invitee_uuid: str

    @classmethod
    def from_uri(cls, uri: str | None) -> InviteeRef | None:
        match = _INVITEE_URI.search(uri or "")
        return cls(match.group(1), match.group(2)) if match else None


def submitter_ref(submitter: str | None, submitter_type: str | None) -> InviteeRef | None:
    """The invitee a routing-form submission is stored under (its scheduled event's partition),
    or ``None``: a submission nobody booked from is stored on its own."""
    return InviteeRef.from_uri(submitter) if submitter_type in (None, "Invitee") else None


@dataclass(frozen=True, slots=True)
class InviteeSnapshot:
    """An invitee as stored. ``state`` is written whole with each newer version; ``facts``
    (reschedule links, the scheduled event's name and times) are only ever added, whatever
    the version: a delivery that lacks them (2020 shape) never erases what another one
    brought, and an older delivery that carries them adds them to a newer state."""

    ref: InviteeRef
    version: str
    email: str | None  # keys the by-email index
    start_time: str | None  # orders it
    state: Mapping[str, Any]
    facts: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EventSnapshot:
    """A scheduled event as stored; ``state`` is written whole with each newer version."""

    event_uuid: str
    version: str
    tenant: str  # keys the by-connection index
    start_time: str | None  # orders it
    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class NoShowChange:
    ref: InviteeRef
    invitee_uri: str
    version: str
    mark: dict[str, Any] | None  # None: the no-show was removed


@dataclass(frozen=True, slots=True)
class Link:
    """A reference one record holds to another; set-only, so it is order-independent."""

    ref: InviteeRef
    attribute: str  # rescheduled_from | rescheduled_to | routing_form_submission
    value: str


@dataclass(frozen=True, slots=True)
class SubmissionSnapshot:
    """A routing-form submission as stored, under its submitter's event when known."""

    uuid: str
    version: str
    submitter_ref: InviteeRef | None
    state: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ResourceSnapshot:
    """A typed resource of a connection as stored (``kind``: ``event_type``, ``contact`` or
    ``meeting_recap``), written whole with each newer version. A meeting recap lives under its
    scheduled event (``event_uuid``); a recap deletion, which names no event, is applied where
    the recap is stored."""

    kind: str
    tenant: str
    uuid: str
    version: str
    state: Mapping[str, Any]
    event_uuid: str | None = None


class BookingsRepository(Protocol):
    """The persistence port; ``store.bookings`` implements it over DynamoDB."""

    def archive(self, delivery: Delivery, *, expires_at: int) -> bool:
        """Keep the raw delivery; True when this body had not been seen before."""
        ...

    def upsert_invitee(self, snapshot: InviteeSnapshot) -> bool: ...

    def upsert_event(self, snapshot: EventSnapshot) -> bool: ...

    def set_no_show(self, change: NoShowChange) -> bool: ...

    def link(self, link: Link) -> None: ...

    def upsert_submission(self, snapshot: SubmissionSnapshot) -> bool: ...

    def keep_other(self, delivery: Delivery, *, created_at: datetime) -> bool: ...

    def upsert_resource(self, snapshot: ResourceSnapshot) -> bool:
        """Write a typed resource when its version is newer than the stored one."""
        ...

    def quarantine(self, delivery: Delivery, *, reason: str) -> None: ...

    def record_replay(self, replay_id: str, outcome: str) -> None:
        """Count one replayed delivery's outcome (applied, unchanged or quarantined)."""
        ...
