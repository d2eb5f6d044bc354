"""The receiver's decision: verify, validate and enqueue one webhook request.

Pure domain code: the signing-key lookup and the queue are ports passed in, so this runs
the same under Lambda, in the local stack and in benchmarks. Fails closed: nothing is
enqueued until the signature, the timestamp and the envelope are all good.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple, Protocol

from pydantic import ValidationError

from calsync.errors import DependencyUnavailable
from calsync.intake import signature
from calsync.intake.delivery import Delivery
from calsync.intake.envelopes import parse_envelope
from calsync.intake.routing import QueueKind, route

SIGNATURE_HEADER = "calendly-webhook-signature"
CONNECTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # fullmatch: "$" would let a trailing newline through


class ConnectionRemoved(Exception):
    """The connection was disconnected (its registry record is ``removed``): its deliveries are
    answered 410 Gone, which makes Calendly delete the subscription, and nothing is verified."""


class SigningKeys(Protocol):
    def keys_for(self, connection_id: str) -> Sequence[bytes] | None:
        """The connection's current and previous keys; None if the connection is unknown.

        Raises ``ConnectionRemoved`` for a disconnected connection (before any key is read),
        ``DependencyUnavailable`` when the key store cannot be read."""
        ...

    def refresh(self, connection_id: str) -> Sequence[bytes] | None:
        """The keys read again, for a signature the cached ones did not verify (a key rotated
        since they were read); None when a read again is not allowed now (no keys, or read
        recently: bounded, so forged signatures cannot force reads).

        Raises ``DependencyUnavailable`` when the key store cannot be read."""
        ...


class DeliveryQueue(Protocol):
    def send(self, kind: QueueKind, delivery: Delivery) -> None:
        """Enqueue durably; raises ``DependencyUnavailable`` when the queue did not accept."""
        ...


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    connection_id: str | None
    headers: Mapping[str, str]
    body: str | None
    is_base64_encoded: bool = False

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name:
                return value
        return None


# The largest body that can reach the receiver (docs/large-deliveries.md has the arithmetic).
# API Gateway takes up to 10 MB, but hands the request to Lambda as a JSON event, and a
# synchronous invocation's payload is at most 6,291,456 bytes: the body travels in it as a JSON
# string (quotes, backslashes and newlines escaped) beside the headers (twice: ``headers`` and
# ``multiValueHeaders``, at most 10,240 bytes each) and the request context. What is left for the
# escaped body, with a reserve of 32 KiB for the rest, is ``MAX_BODY_BYTES``: a typical Calendly
# body escapes ~11 % larger, so bodies up to ~5.6 MB are accepted. Above that no request reaches
# calsync at all (API Gateway answers 413 itself).
LAMBDA_PAYLOAD_BYTES = 6_291_456
EVENT_RESERVE_BYTES = 32_768
MAX_BODY_BYTES = LAMBDA_PAYLOAD_BYTES - EVENT_RESERVE_BYTES  # 6,258,688


@dataclass(frozen=True, slots=True)
class ReceiverLimits:
    tolerance_seconds: int = 180
    max_body_bytes: int = MAX_BODY_BYTES  # the body as the Lambda event carries it (JSON-escaped, or base64)


class Reply(NamedTuple):
    """The answer to give, plus what only the logs may know (``detail``). A tuple: built on
    every request, and a frozen dataclass costs the receiver ~0.6 µs more each time."""

    status: int
    error: str | None
    message: str
    detail: str
    event: str | None = None
    queue: QueueKind | None = None

    @property
    def accepted(self) -> bool:
        return self.status < 300

    def body(self) -> dict[str, str]:
        if self.error is None:
            return {"status": "accepted"}
        return {"error": self.error, "message": self.message}


# Delivery's own validator, bound once (``Delivery(**fields)`` adds ~0.4 µs of Python per request).
_new_delivery: Callable[[dict[str, object]], Delivery] = Delivery.__pydantic_validator__.validate_python
_BAD_SIGNATURE = "The signature does not match this endpoint's signing key."


def _reject(status: int, error: str, message: str, detail: str | None = None) -> Reply:
    return Reply(status=status, error=error, message=message, detail=detail or message)


def event_size(body_text: str) -> int:
    """How many bytes the body takes in the Lambda event: a JSON string in UTF-8 (what counts
    toward Lambda's payload limit), without its quotes."""
    return len(json.dumps(body_text, ensure_ascii=False).encode("utf-8", "surrogatepass")) - 2


def _too_large(size: int, limits: ReceiverLimits) -> Reply:
    message = (
        f"Body takes {size} bytes in the Lambda event; at most {limits.max_body_bytes} fit Lambda's 6 MB "
        "invocation payload beside the request's headers, so calsync cannot accept it."
    )
    return _reject(413, "payload_too_large", message)


def receive(
    request: WebhookRequest,
    *,
    keys: SigningKeys,
    queue: DeliveryQueue,
    limits: ReceiverLimits,
    now: float,
) -> Reply:
    body_text = request.body or ""
    # Size first, on what arrived: the body as the Lambda event carries it (base64 text, or a
    # JSON string whose escaping counts toward Lambda's limit). Escaping at most sextuples a
    # character (``\\u0000``), so only a long body is measured.
    if len(body_text) * 6 > limits.max_body_bytes:
        size = len(body_text) if request.is_base64_encoded else event_size(body_text)
        if size > limits.max_body_bytes:
            return _too_large(size, limits)
    # Text holding a lone surrogate is no UTF-8 byte sequence: verify over the bytes it would have
    # been sent as (surrogatepass); if that verifies, decoding it below is a clear 400.
    body_bytes = body_text.encode("utf-8", "surrogatepass")

    try:
        parsed = signature.parse_header(request.header(SIGNATURE_HEADER))
        signature.check_timestamp(parsed, now=now, tolerance_seconds=limits.tolerance_seconds)
    except signature.SignatureError as exc:
        return _reject(401, exc.failure.value, exc.detail)

    connection_id = request.connection_id or ""
    if not CONNECTION_ID.fullmatch(connection_id):
        return _reject(401, "invalid_signature", _BAD_SIGNATURE, "connection id is not well-formed")
    try:
        connection_keys = keys.keys_for(connection_id)
    except ConnectionRemoved:
        return _reject(410, "gone", "This connection was disconnected; delete the subscription.", "removed connection")
    except DependencyUnavailable as exc:
        return _reject(503, "unavailable", "Signing keys could not be read; retry later.", str(exc))
    if not connection_keys:
        return _reject(401, "invalid_signature", _BAD_SIGNATURE, "unknown connection")

    if request.is_base64_encoded:
        try:
            raw = base64.b64decode(body_text, validate=True)
        except (binascii.Error, ValueError):
            return _reject(400, "bad_encoding", "Body is not valid base64.")
    else:
        raw = body_bytes

    if not signature.matches(parsed, raw, connection_keys):
        try:  # signed with a key rotated since the cached ones were read? (bounded re-read)
            rotated = keys.refresh(connection_id)
        except DependencyUnavailable as exc:
            return _reject(503, "unavailable", "Signing keys could not be read; retry later.", str(exc))
        if not rotated or not signature.matches(parsed, raw, rotated):
            return _reject(401, "invalid_signature", _BAD_SIGNATURE, "no key matched any v1 signature")

    content_type = (request.header("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        return _reject(415, "unsupported_media_type", "Content-Type must be application/json.")

    try:
        text = raw.decode("utf-8")
        envelope = parse_envelope(text)
    except UnicodeDecodeError:
        return _reject(400, "invalid_json", "Body is not UTF-8 JSON.")
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors(include_url=False)):
            return _reject(400, "invalid_json", "Body is not valid JSON.")
        fields = sorted({".".join(str(p) for p in err["loc"]) or "body" for err in exc.errors(include_url=False)})
        return _reject(400, "invalid_envelope", f"Body is not a Calendly webhook envelope: check {', '.join(fields)}.")

    kind = route(envelope.event)
    delivery = _new_delivery(
        {
            "connection_id": connection_id,
            "received_at": datetime.fromtimestamp(now, UTC),
            "body_sha256": hashlib.sha256(raw).hexdigest(),
            "event": envelope.event,
            "body": text,
        }
    )
    try:
        queue.send(kind, delivery)
    except DependencyUnavailable as exc:
        message = "The delivery could not be queued; retry later."
        return Reply(503, "unavailable", message, str(exc), envelope.event, kind)
    return Reply(202, None, "accepted", "enqueued", envelope.event, kind)
