"""The opaque cursor (``calsync.read.cursor``): it round-trips, and anything else is refused
with a short reason that never shows the key."""

from __future__ import annotations

import pytest

from calsync.errors import CalsyncError
from calsync.read.cursor import MAX_BYTES, BadCursor, Position, decode, encode

KEY = b"secret-key-0123456789"
FILTERS = {"status": "active", "email": None, "start_after": None, "start_before": None}
AT = Position("2026-12-01T09:00:00Z", "EV1", "IN1")


def _encode(**overrides: object) -> str:
    args: dict[str, object] = {"key": KEY, "connection_id": "acme", "filters": FILTERS} | overrides
    return encode(AT, **args)  # type: ignore[arg-type]


def test_a_cursor_gives_back_its_position() -> None:
    assert decode(_encode(), key=KEY, connection_id="acme", filters=dict(reversed(FILTERS.items()))) == AT


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (_encode(key=b"another key"), "tampered with or not issued here"),
        (_encode(connection_id="beta"), "issued for another connection"),
        (_encode(filters=FILTERS | {"status": "canceled"}), "issued for a query with other filters"),
        ("A" * (MAX_BYTES + 1), "too long"),
        ("no-dot", "malformed"),
        ("ä.b", "malformed"),
        ("a*b.cd", "not base64url"),
        ("e30=.AAAA", "not base64url"),  # padding is never written
    ],
)
def test_anything_but_a_cursor_issued_here_is_refused(text: str, reason: str) -> None:
    with pytest.raises(BadCursor) as caught:
        decode(text, key=KEY, connection_id="acme", filters=FILTERS)
    assert caught.value.reason == reason
    assert isinstance(caught.value, CalsyncError)
    assert KEY.decode() not in str(caught.value)


def test_every_single_character_change_is_refused() -> None:
    # Given a genuine cursor
    text = _encode()
    # When any one of its characters is replaced by any other base64url character
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    accepted = [
        (i, c) for i in range(len(text)) for c in alphabet if c != text[i] and _accepts(text[:i] + c + text[i + 1 :])
    ]
    # Then none is accepted (the tag covers every payload byte; trailing bits are checked)
    assert accepted == []


def _accepts(text: str) -> bool:
    try:
        decode(text, key=KEY, connection_id="acme", filters=FILTERS)
    except BadCursor:
        return False
    return True
