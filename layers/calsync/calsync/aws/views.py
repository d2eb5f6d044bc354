"""What reads of the bookings table return: typed, read-only views without table keys.

Each view names the attributes callers use; ``attributes`` holds every stored attribute
as plain JSON values (``PK``/``SK``/``GSI*`` removed; a kept delivery body, stored
compressed, as its text ``body``), for the rest. Key formats stay in
``calsync.aws.keys``: nothing outside the store sees a ``PK`` or ``SK``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from calsync.aws import keys

BODY_ZLIB = "body_z"  # a kept delivery body, zlib-compressed (Binary); older items hold "body"


KEPT_INLINE_MAX_BYTES = 300_000  # a compressed body kept in an item, under DynamoDB's 400 KB item limit


def kept_body(body: str, body_key: str | None = None, *, expires_with_archive: bool = False) -> dict[str, Any]:
    """A delivery's body as archive, quarantine and other-event items keep it: zlib-compressed
    (a 2 KB body takes ~0.7 KB: one write unit, not three). ``StoredDelivery`` reads it back,
    and the ``body`` strings items written before still hold. A body that came through the
    delivery-bodies bucket (``body_key``) is kept as its key there: always in the archive
    (the bucket expires it with the archive), in items kept longer only when it would not fit."""
    if body_key is not None and expires_with_archive:
        return {"body_key": body_key}
    inline = {BODY_ZLIB: zlib.compress(body.encode(), 9)}
    if body_key is not None and len(inline[BODY_ZLIB]) > KEPT_INLINE_MAX_BYTES:
        return {"body_key": body_key}
    return inline


def _attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in keys.KEY_ATTRIBUTES}


def _ids(item: Mapping[str, Any]) -> tuple[str, str]:
    return keys.identity(keys.Key(item[keys.PK], item[keys.SK]))


def _build[V](cls: type[V], item: Mapping[str, Any], **derived: Any) -> V:
    """A view from an item: ``derived`` values (ids read from the keys), every other named
    field from the stored attribute of the same name, and all attributes in ``attributes``."""
    named = {f.name for f in fields(cls)} - derived.keys() - {"attributes"}  # type: ignore[arg-type]
    return cls(**derived, **{name: item.get(name) for name in named}, attributes=_attributes(item))  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class StoredBooking:
    """An invitee of a scheduled event (``type: invitee``)."""

    event_uuid: str
    invitee_uuid: str
    uri: str | None
    status: str | None
    email: str | None
    name: str | None
    tenant: str | None
    event_name: str | None
    start_time: str | None  # ISO 8601 as stored; None until an event fact arrives
    end_time: str | None
    updated_at: str | None
    no_show: dict[str, Any] | None
    cancellation: dict[str, Any] | None
    rescheduled: bool | None
    rescheduled_from: str | None
    rescheduled_to: str | None
    routing_form_submission: str | None
    attributes: dict[str, Any] = field(repr=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StoredBooking:
        event_uuid, invitee_uuid = _ids(item)
        return _build(cls, item, event_uuid=event_uuid, invitee_uuid=invitee_uuid)


@dataclass(frozen=True, slots=True)
class ScheduledEventItem:
    """A scheduled event (``type: event``)."""

    event_uuid: str
    uri: str | None
    tenant: str | None
    name: str | None
    status: str | None
    start_time: str | None
    end_time: str | None
    attributes: dict[str, Any] = field(repr=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> ScheduledEventItem:
        event_uuid, _ = _ids(item)
        return _build(cls, item, event_uuid=event_uuid)


@dataclass(frozen=True, slots=True)
class StoredSubmission:
    """A routing-form submission (``type: routing_form_submission``); ``event_uuid`` and
    ``invitee_uuid`` name its submitter when known."""

    submission_uuid: str
    event_uuid: str | None
    invitee_uuid: str | None
    uri: str | None
    tenant: str | None
    attributes: dict[str, Any] = field(repr=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StoredSubmission:
        event_uuid, submission_uuid = _ids(item)
        invitee_sk = item.get("invitee_sk")
        return _build(
            cls,
            item,
            submission_uuid=submission_uuid,
            event_uuid=event_uuid or None,
            invitee_uuid=invitee_sk.partition("#")[2] if isinstance(invitee_sk, str) else None,
        )


@dataclass(frozen=True, slots=True)
class StoredDelivery:
    """A delivery kept whole: archived (``delivery``), quarantined (``quarantine``) or an
    event calsync does not model (``other``)."""

    type: str
    body_sha256: str
    event: str | None
    connection_id: str | None
    received_at: str | None
    body: str | None
    reason: str | None  # why it was quarantined
    expires_at: int | None  # archive TTL, unix seconds
    body_key: str | None  # a body too large for an item: its key in the delivery-bodies bucket (``body`` is None)
    attributes: dict[str, Any] = field(repr=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StoredDelivery:
        _, sha = _ids(item)
        if BODY_ZLIB in item:  # the body as text, whichever way it was kept
            body = zlib.decompress(item[BODY_ZLIB]).decode()
            item = {**{k: v for k, v in item.items() if k != BODY_ZLIB}, "body": body}
        return _build(cls, item, type=item["type"], body_sha256=sha)


@dataclass(frozen=True, slots=True)
class StoredResource:
    """A typed Calendly resource of a connection: an event type (``event_type``), a contact
    (``contact``) or a meeting recap (``meeting_recap``); ``deleted`` once Calendly deleted it."""

    type: str
    uri: str | None
    tenant: str | None
    deleted: bool | None
    attributes: dict[str, Any] = field(repr=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> StoredResource:
        return _build(cls, item, type=item["type"])


RESOURCE_TYPES = frozenset({"event_type", "contact", "meeting_recap"})

StoredItem = StoredBooking | ScheduledEventItem | StoredSubmission | StoredDelivery | StoredResource

_VIEWS: dict[str, Any] = {
    "invitee": StoredBooking,
    "event": ScheduledEventItem,
    "routing_form_submission": StoredSubmission,
    "delivery": StoredDelivery,
    "quarantine": StoredDelivery,
    "other": StoredDelivery,
    **dict.fromkeys(RESOURCE_TYPES, StoredResource),
}
ITEM_TYPES = frozenset(_VIEWS)


def view(item: Mapping[str, Any]) -> StoredItem:
    """The typed view of a plain item read from the table."""
    kind = item.get("type")
    factory = _VIEWS.get(kind) if isinstance(kind, str) else None
    if factory is None:
        raise ValueError(f"no read view for item type {kind!r}")
    result: StoredItem = factory.from_item(item)
    return result


@dataclass(frozen=True, slots=True)
class ScheduledEventWithInvitees:
    """Everything stored under one scheduled event: the event (once known), its invitees
    and the routing-form submissions of those invitees."""

    event: ScheduledEventItem | None
    invitees: list[StoredBooking]
    submissions: list[StoredSubmission]
    recaps: list[StoredResource] = field(default_factory=list)  # its meeting recaps (Notetaker)
