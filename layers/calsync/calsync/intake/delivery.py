"""What the receiver enqueues and a processor dequeues: the delivery and its message contract.

A queue message is the body exactly as signed; where it came from travels in string
attributes. SQS refuses a message body holding a character outside its documented set
(U+FFFE, U+FFFF, surrogates, most C0 controls), so such a body travels base64-encoded, and
``body_encoding`` says so; so does one holding a carriage return, which tools that read and
re-send messages (DLQ redrive, state save/restore) may normalise. Every other body stays the
readable message itself. Processors check the rebuilt body against ``body_sha256`` (the hash of
the signed bytes): a message altered in transit is refused, never stored as if signed. Both
sides use these functions, so the contract lives in one place; messages without
``body_encoding`` (sent before it existed) are read as before.

A body too large for a queue message (``QUEUE_MESSAGE_MAX_BYTES``, the whole message as SQS
counts it) is put in the delivery-bodies bucket under ``body_key`` (its hash: a retry writes the
same object) and the message carries that key, as its body and in the ``body_key`` attribute;
processors read the object back (``resolve_body``) and check it against ``body_sha256`` like any
body. The object is kept as long as the archive (the bucket's lifecycle rule) and erased with it
(docs/large-deliveries.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from typing import Annotated, Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from calsync.calendly.models import EventName, UtcDatetime

ATTRIBUTES = ("connection_id", "received_at", "body_sha256", "event")
BODY_ENCODING = "body_encoding"
REPLAY_ID = "replay_id"
BASE64 = "base64"
# SQS's documented set (#x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF)
# without #xD: what may travel as the message body unencoded.
_PLAIN = re.compile("[\t\n\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")
_CHECK_HASH = "check_body_sha256"
BODY_KEY = "body_key"
BODIES_PREFIX = "deliveries/"  # every offloaded body's key starts so (IAM and the lifecycle rule name it)
# The largest message sent as is: 256 KiB, SQS's limit until 2025 and moto's, so it works on both;
# it also keeps every body an archive item holds inline under DynamoDB's 400 KB item limit
# (compressed, a body never grows more than a few bytes). Larger bodies go to the bucket.
QUEUE_MESSAGE_MAX_BYTES = 262_144


class DeliveryBodies(Protocol):
    """Where bodies too large for a queue message are kept (the delivery-bodies bucket)."""

    def put(self, key: str, body: bytes) -> None:
        """Store the body; raises ``DependencyUnavailable`` when the store did not accept it."""
        ...

    def get(self, key: str) -> bytes | None:
        """The body, or ``None`` when it is gone (expired with the archive, or erased)."""
        ...


class Delivery(BaseModel):
    """One accepted webhook: the raw body exactly as signed, plus where it came from."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    received_at: UtcDatetime
    body_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    event: EventName
    body: str
    replay_id: str | None = None  # set when an operator re-enqueues an archived delivery
    body_key: str | None = None  # set when the body travelled in the bucket (too large for a message)

    @field_validator("body")
    @classmethod
    def _matches_hash(cls, body: str, info: ValidationInfo) -> str:
        """Only when rebuilt from a message (``context``): the body must be the signed bytes."""
        if info.context and info.context.get(_CHECK_HASH) and "body_sha256" in info.data:
            raw = body.encode("utf-8", "surrogatepass")
            if hashlib.sha256(raw).hexdigest() != info.data["body_sha256"]:
                raise ValueError("body does not match body_sha256")
        return body


def _plain(body: str) -> bool:
    return _PLAIN.fullmatch(body) is not None


def message_body(delivery: Delivery) -> str:
    """The message body: the signed body itself, or its UTF-8 bytes in base64 when SQS would
    refuse or a tool might rewrite it (``message_attributes`` then says ``body_encoding``)."""
    if _plain(delivery.body):
        return delivery.body
    return base64.b64encode(delivery.body.encode()).decode("ascii")


def message_attributes(delivery: Delivery) -> dict[str, str]:
    """The message's string attributes (the body is ``message_body``)."""
    attributes = {
        "connection_id": delivery.connection_id,
        "received_at": delivery.received_at.isoformat(),
        "body_sha256": delivery.body_sha256,
        "event": delivery.event,
    }
    if not _plain(delivery.body):
        attributes[BODY_ENCODING] = BASE64
    if delivery.replay_id:
        attributes[REPLAY_ID] = delivery.replay_id
    return attributes


def body_key(delivery: Delivery) -> str:
    """Where an offloaded body is kept: by its hash, so a retried delivery writes the same object."""
    return f"{BODIES_PREFIX}{delivery.body_sha256}"


def message_size(body: str, attributes: Mapping[str, str]) -> int:
    """A message's size as SQS counts it: the body and each attribute's name, type and value."""
    size = len(body.encode("utf-8", "surrogatepass"))
    return size + sum(len(name.encode()) + len("String") + len(value.encode()) for name, value in attributes.items())


def offloaded(delivery: Delivery, key: str) -> tuple[str, dict[str, str]]:
    """The message for a body kept in the bucket under ``key``: the key, as body and attribute."""
    attributes = {k: v for k, v in message_attributes(delivery).items() if k != BODY_ENCODING}
    return key, {**attributes, BODY_KEY: key}


def _attribute(attributes: Mapping[str, Mapping[str, object]], name: str) -> object:
    value = attributes.get(name, {})
    return value.get("stringValue", value.get("StringValue"))


def message_body_key(attributes: Mapping[str, Mapping[str, object]]) -> str | None:
    """The key of the body a message points at in the bucket, if it does."""
    key = _attribute(attributes, BODY_KEY)
    return key if isinstance(key, str) else None


def resolve_body(body: str, attributes: Mapping[str, Mapping[str, object]], bodies: DeliveryBodies | None) -> str:
    """The message body a processor reads: for a body kept in the bucket, the object's text
    (checked against ``body_sha256`` when the delivery is rebuilt); otherwise the message's own.
    A body that is gone leaves the key, which is no delivery (quarantined, holding no one's data)."""
    key = message_body_key(attributes)
    if key is None or bodies is None:
        return body
    found = bodies.get(key)
    if found is None:
        return body
    return found.decode("utf-8", "surrogatepass")


def _decoded(body: str, encoding: object) -> Any:
    if encoding is None:
        return body
    if encoding != BASE64:
        return None  # an encoding this contract does not define: not a delivery
    try:
        return base64.b64decode(body, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


def delivery_from_message(body: str, attributes: Mapping[str, Mapping[str, object]]) -> Delivery:
    """Rebuild the delivery from a queue message (attribute keys as in Lambda's SQS event,
    ``stringValue``, or as SQS's API returns them, ``StringValue``); raises
    ``pydantic.ValidationError`` for a message that is not a calsync delivery, or whose body is
    not the one that was signed. A body kept in the bucket is read first (``resolve_body``)."""

    fields = {name: _attribute(attributes, name) for name in (*ATTRIBUTES, REPLAY_ID, BODY_KEY)}
    body_text = _decoded(body, _attribute(attributes, BODY_ENCODING))
    return Delivery.model_validate({**fields, "body": body_text}, context={_CHECK_HASH: True})
