"""Verification of ``Calendly-Webhook-Signature: t=<unix seconds>,v1=<hex>``.

v1 is HMAC-SHA256 with the signing key over ``f"{t}.{raw_body}"``. The body is the raw
bytes as received; several ``v1`` values and several keys (current, previous) may match.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable
from enum import StrEnum
from typing import NamedTuple

MAX_HEADER_LENGTH = 1024
_DIGEST_SIZE = 32  # SHA-256


class SignatureFailure(StrEnum):
    """Why a signature was not accepted; the value is the public reason code."""

    MISSING = "missing_signature"
    MALFORMED = "malformed_signature"
    STALE = "stale_timestamp"
    MISMATCH = "invalid_signature"


class SignatureError(Exception):
    def __init__(self, failure: SignatureFailure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


class ParsedSignature(NamedTuple):
    timestamp: int
    signatures: tuple[bytes, ...]


# The header as Calendly sends it: one regex match instead of the general loop (~1 µs a request).
_USUAL = re.compile(r"t=([0-9]{1,12}),v1=([0-9a-f]{64})")


def parse_header(header: str | None) -> ParsedSignature:
    """Parse the header; raise ``SignatureError`` for a missing or garbled one."""
    if header is not None and (usual := _USUAL.fullmatch(header)) is not None:
        return ParsedSignature(int(usual[1]), (bytes.fromhex(usual[2]),))
    if header is None or not header.strip():
        raise SignatureError(SignatureFailure.MISSING, "Calendly-Webhook-Signature header is missing")
    if len(header) > MAX_HEADER_LENGTH:
        raise SignatureError(SignatureFailure.MALFORMED, "signature header is too long")
    timestamp: int | None = None
    signatures: list[bytes] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(SignatureFailure.MALFORMED, "signature header element lacks '='")
        if name == "t":
            if timestamp is not None or not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError(SignatureFailure.MALFORMED, "signature timestamp is not unix seconds")
            timestamp = int(value)
        elif name == "v1":
            try:
                digest = bytes.fromhex(value)
            except ValueError:
                raise SignatureError(SignatureFailure.MALFORMED, "v1 signature is not hex") from None
            if len(digest) != _DIGEST_SIZE:
                raise SignatureError(SignatureFailure.MALFORMED, "v1 signature has the wrong length")
            signatures.append(digest)
        # Other schemes (v0, future versions) are ignored, as Stripe-style headers allow.
    if timestamp is None:
        raise SignatureError(SignatureFailure.MALFORMED, "signature header has no t= timestamp")
    if not signatures:
        raise SignatureError(SignatureFailure.MALFORMED, "signature header has no v1= signature")
    return ParsedSignature(timestamp, tuple(signatures))


def check_timestamp(parsed: ParsedSignature, *, now: float, tolerance_seconds: int) -> None:
    """Reject timestamps older, or further in the future, than the tolerance."""
    if abs(now - parsed.timestamp) > tolerance_seconds:
        raise SignatureError(
            SignatureFailure.STALE,
            f"signature timestamp is outside the {tolerance_seconds}s tolerance",
        )


def compute_signature(key: bytes, timestamp: int, raw_body: bytes) -> bytes:
    # hmac.digest: OpenSSL's one-shot HMAC, without the Python-level hmac object.
    return hmac.digest(key, b"%d.%s" % (timestamp, raw_body), "sha256")


def matches(parsed: ParsedSignature, raw_body: bytes, keys: Iterable[bytes]) -> bool:
    """True when any key signs the body to any of the header's v1 values (constant time)."""
    found = False
    for key in keys:
        expected = compute_signature(key, parsed.timestamp, raw_body)
        for candidate in parsed.signatures:
            # No early exit: every comparison runs, so timing says nothing about which failed.
            found |= hmac.compare_digest(expected, candidate)
    return found


def sign_header(key: bytes, raw_body: bytes, timestamp: int) -> str:
    """The header value Calendly would send (for tests, local runs and `calsync send`)."""
    return f"t={timestamp},v1={compute_signature(key, timestamp, raw_body).hex()}"
