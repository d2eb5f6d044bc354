"""The queue message contract (webhooks.delivery): what the receiver sends is what processors rebuild."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from calsync.intake.delivery import (
    Delivery,
    body_key,
    delivery_from_message,
    message_attributes,
    message_body,
    message_size,
    offloaded,
    resolve_body,
)
from tests.fakes.intake import FakeDeliveryBodies

# What SQS accepts in a message body (its documented set): #x9 | #xA | #xD | #x20-#xD7FF |
# #xE000-#xFFFD | #x10000-#x10FFFF. Anything else is refused with InvalidMessageContents.
SQS_ALLOWED = re.compile("^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")


def delivery(text: str) -> Delivery:
    body = json.dumps(
        {"event": "x.y", "created_at": "2026-01-01T00:00:00Z", "payload": {"t": text}}, ensure_ascii=False
    )
    return Delivery(
        connection_id="acme",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        event="x.y",
        body=body,
    )


def as_received(message: str, attributes: dict[str, str], *, api: bool = False) -> Delivery:
    key = "StringValue" if api else "stringValue"
    return delivery_from_message(message, {name: {key: value} for name, value in attributes.items()})


@pytest.mark.parametrize(
    "text", ["plain", "\ufffe", "\uffff", "x\ufffey", "\x7f\x85\u2028", "\U0001f600", "a\r\nb", "\x00\x01\x1b"]
)
@pytest.mark.parametrize("api", [False, True])
def test_every_delivery_survives_the_queue_byte_for_byte(text: str, api: bool) -> None:
    # Given a delivery whose body holds characters SQS refuses or that tools may rewrite
    sent = delivery(text)
    # When it is turned into a message
    message, attributes = message_body(sent), message_attributes(sent)
    # Then SQS would accept the message body
    assert SQS_ALLOWED.match(message)
    # And the processor rebuilds exactly the delivery that was sent, body bytes included
    received = as_received(message, attributes, api=api)
    assert received == sent
    assert hashlib.sha256(received.body.encode()).hexdigest() == sent.body_sha256


def test_an_ordinary_body_stays_readable_in_the_queue() -> None:
    sent = delivery("plain text, é, 😀")
    assert message_body(sent) == sent.body
    assert "body_encoding" not in message_attributes(sent)


def test_messages_in_the_format_before_body_encoding_are_still_read() -> None:
    # Given a message sent by the previous receiver (raw body, four attributes) still in flight
    sent = delivery("plain")
    old_attributes = {k: v for k, v in message_attributes(sent).items() if k != "body_encoding"}
    # When a new processor reads it
    # Then it is the same delivery
    assert as_received(sent.body, old_attributes) == sent


@pytest.mark.parametrize(
    "tamper",
    [
        lambda message, attributes: (message + " ", attributes),
        lambda message, attributes: (message, {k: v for k, v in attributes.items() if k != "body_encoding"}),
        lambda message, attributes: ("%%%", attributes),
        lambda message, attributes: (message, {**attributes, "body_encoding": "rot13"}),
    ],
)
def test_a_message_whose_body_does_not_match_its_hash_is_not_a_delivery(tamper) -> None:  # type: ignore[no-untyped-def]
    # Given a message altered in transit (or a wrong encoding claim)
    sent = delivery("\ufffe")
    message, attributes = tamper(message_body(sent), message_attributes(sent))
    # When it is read, it is refused (quarantined by the processor), never stored as the signed body
    with pytest.raises(ValidationError):
        as_received(message, attributes)


@pytest.mark.parametrize("text", ["plain", "\ufffe\x00", "😀 é"])
def test_a_body_kept_in_the_bucket_is_rebuilt_byte_for_byte_and_says_where_it_was(text: str) -> None:
    # Given a delivery whose body was put in the bucket and whose message carries the key
    sent = delivery(text)
    bucket = FakeDeliveryBodies()
    key = body_key(sent)
    bucket.put(key, sent.body.encode("utf-8", "surrogatepass"))
    message, attributes = offloaded(sent, key)
    # Then the message is small, and the processor rebuilds the same delivery from the bucket
    assert message == key
    assert key == f"deliveries/{sent.body_sha256}"
    wire = {name: {"stringValue": value} for name, value in attributes.items()}
    received = delivery_from_message(resolve_body(message, wire, bucket), wire)
    assert received == sent.model_copy(update={"body_key": key})


def test_a_body_gone_from_the_bucket_or_altered_there_is_no_delivery() -> None:
    sent = delivery("plain")
    message, attributes = offloaded(sent, body_key(sent))
    wire = {name: {"stringValue": value} for name, value in attributes.items()}
    bucket = FakeDeliveryBodies()
    # Gone (expired with the archive, or erased): the key alone is not the signed body
    with pytest.raises(ValidationError, match="body_sha256"):
        delivery_from_message(resolve_body(message, wire, bucket), wire)
    # Altered: refused like an altered message
    bucket.put(body_key(sent), sent.body.replace("plain", "plane").encode())
    with pytest.raises(ValidationError, match="body_sha256"):
        delivery_from_message(resolve_body(message, wire, bucket), wire)


def test_a_messages_size_is_counted_as_sqs_counts_it() -> None:
    # The body's UTF-8 bytes, and each attribute's name, data type and value
    assert message_size("é", {"event": "x.y"}) == 2 + len("event") + len("String") + len("x.y")
