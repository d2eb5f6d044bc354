"""The opaque ``next_cursor`` of a paged read: signed, bound to one connection and one query.

A cursor is ``<payload>.<tag>``, both base64url without padding: the payload a compact JSON
object ``{"c": connection id, "p": position, "f": filters' fingerprint}``, the tag the first
16 bytes of an HMAC-SHA256 over the payload's bytes with a key only the service holds. So a
cursor cannot be forged or edited (wrong tag), used on another connection or with other
filters (both checked after the tag), and never carries an email (the filters are only a hash).

It never exposes a table key either, without needing encryption: the position is made of
values the API already returns with each booking (its start time, its event's uuid and its
invitee's uuid, see ``Position``), never a ``PK``/``SK``/``GSI`` string. The adapter rebuilds
its exclusive start key from them, so the key layout can change without breaking clients'
cursors or leaking through them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

from calsync.errors import CalsyncError

MAX_BYTES = 2048  # a cursor longer than this is refused before any decoding
TAG_BYTES = 16


class BadCursor(CalsyncError):
    """A cursor this service did not issue for this connection and query; ``reason`` is short
    and never holds the key or the cursor's content."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page ended: the last booking returned, by values the API shows anyway."""

    start_time: str
    event_uuid: str
    invitee_uuid: str


def fingerprint(filters: Mapping[str, str | None]) -> str:
    """A short hash of a query's filters (order-free): a cursor is valid only with the same ones."""
    canonical = json.dumps(dict(sorted(filters.items())), separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise BadCursor("not base64url") from exc
    if _b64(data) != text:  # trailing bits or stray characters: not a cursor we wrote
        raise BadCursor("not base64url")
    return data


def _tag(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, payload, hashlib.sha256).digest()[:TAG_BYTES]


def encode(position: Position, *, key: bytes, connection_id: str, filters: Mapping[str, str | None]) -> str:
    body = {
        "c": connection_id,
        "p": [position.start_time, position.event_uuid, position.invitee_uuid],
        "f": fingerprint(filters),
    }
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()
    return f"{_b64(payload)}.{_b64(_tag(payload, key))}"


def decode(text: str, *, key: bytes, connection_id: str, filters: Mapping[str, str | None]) -> Position:
    """The position ``text`` resumes after, or ``BadCursor`` saying briefly why not."""
    if len(text) > MAX_BYTES:
        raise BadCursor("too long")
    if not text.isascii() or text.count(".") != 1:
        raise BadCursor("malformed")
    payload_text, tag_text = text.split(".")
    payload, tag = _unb64(payload_text), _unb64(tag_text)
    if not hmac.compare_digest(tag, _tag(payload, key)):
        raise BadCursor("tampered with or not issued here")
    try:
        body = json.loads(payload)
        position = Position(*body["p"])
        owner, print_ = body["c"], body["f"]
    except (ValueError, TypeError, KeyError) as exc:
        raise BadCursor("malformed") from exc
    if not all(isinstance(v, str) for v in (position.start_time, position.event_uuid, position.invitee_uuid)):
        raise BadCursor("malformed")
    if owner != connection_id:
        raise BadCursor("issued for another connection")
    if print_ != fingerprint(filters):
        raise BadCursor("issued for a query with other filters")
    return position
