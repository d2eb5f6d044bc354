"""Intake's ports: FakeDeliveryQueue / SqsDeliveryQueue, FakeSigningKeys /
SecretsManagerSigningKeys and FakeDeliveryBodies / S3DeliveryBodies (moto) behave alike."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from calsync.errors import DependencyUnavailable
from calsync.intake.aws_bodies import S3DeliveryBodies
from calsync.intake.aws_queues import SqsDeliveryQueue
from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys
from calsync.intake.delivery import BODIES_PREFIX, Delivery, DeliveryBodies, delivery_from_message, resolve_body
from calsync.intake.receive import DeliveryQueue
from calsync.intake.routing import QueueKind
from calsync_dev.events import delivery_for
from tests.contract.conftest import moto_client
from tests.factories import event_body
from tests.fakes.intake import FakeDeliveryBodies, FakeDeliveryQueue, FakeSigningKeys

RECEIVED = datetime(2026, 12, 1, 12, tzinfo=UTC)
PREFIX = "calsync/test/signing-keys/"
SMALL = 2_000  # a queue message limit small enough to offload a fixture body


# -- the delivery bodies bucket ----------------------------------------------------------------------


def make_bodies(backend: str, request: pytest.FixtureRequest) -> FakeDeliveryBodies | S3DeliveryBodies:
    if backend == "fake":
        return FakeDeliveryBodies()
    s3 = moto_client("s3", request)
    s3.create_bucket(Bucket="bodies")
    return S3DeliveryBodies("bodies", s3)


@pytest.fixture
def bodies(backend: str, request: pytest.FixtureRequest) -> FakeDeliveryBodies | S3DeliveryBodies:
    return make_bodies(backend, request)


def test_a_body_is_kept_byte_for_byte_until_deleted(bodies: FakeDeliveryBodies | S3DeliveryBodies) -> None:
    key = f"{BODIES_PREFIX}abc"
    # Given no body yet
    assert bodies.get(key) is None
    # When bytes that are not even UTF-8 are put
    bodies.put(key, b"\xff\x00{}")
    # Then they are read back exactly, and listed
    assert bodies.get(key) == b"\xff\x00{}"
    assert list(bodies.stored_keys()) == [key]
    # And once deleted (twice is fine) they are gone
    bodies.delete(key)
    bodies.delete(key)
    assert bodies.get(key) is None
    assert list(bodies.stored_keys()) == []


# -- the intake queues ----------------------------------------------------------------------------


@dataclass
class Queues:
    queue: DeliveryQueue
    received: Callable[[QueueKind], list[Delivery]]
    break_it: Callable[[], None]


def queues(backend: str, request: pytest.FixtureRequest, bodies: DeliveryBodies | None, max_bytes: int) -> Queues:
    if backend == "fake":
        fake = FakeDeliveryQueue(bodies=bodies, max_message_bytes=max_bytes)
        return Queues(fake, fake.received, lambda: setattr(fake, "fail", True))
    sqs = moto_client("sqs", request)
    urls = {kind: sqs.create_queue(QueueName=f"intake-{kind}")["QueueUrl"] for kind in QueueKind}

    def received(kind: QueueKind) -> list[Delivery]:
        found: list[Delivery] = []
        while messages := sqs.receive_message(
            QueueUrl=urls[kind], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", []):
            for message in messages:
                attributes: dict[str, Any] = message.get("MessageAttributes", {})
                found.append(delivery_from_message(resolve_body(message["Body"], attributes, bodies), attributes))
                sqs.delete_message(QueueUrl=urls[kind], ReceiptHandle=message["ReceiptHandle"])
        return found

    def break_it() -> None:
        for url in urls.values():
            sqs.delete_queue(QueueUrl=url)

    return Queues(SqsDeliveryQueue(urls, sqs, bodies=bodies, max_message_bytes=max_bytes), received, break_it)


def delivery(name: str = "invitee_created.json", **changes: Any) -> Delivery:
    return delivery_for(event_body(name), connection_id="acme", received_at=RECEIVED).model_copy(update=changes)


def test_a_delivery_sent_is_received_from_its_kinds_queue_unchanged(
    backend: str, request: pytest.FixtureRequest
) -> None:
    subject = queues(backend, request, None, 262_144)
    # Given a plain delivery, one whose body SQS would refuse as text, and a replayed one
    plain = delivery()
    text = "\ufffe\x00 not json"
    odd = delivery(body=text, body_sha256=hashlib.sha256(text.encode()).hexdigest())
    replayed = delivery("invitee_canceled.json", replay_id="r1")
    # When they are sent
    subject.queue.send(QueueKind.INVITEE_CREATED, plain)
    subject.queue.send(QueueKind.INVITEE_CREATED, replayed)
    subject.queue.send(QueueKind.OTHER, odd)
    # Then each kind's queue holds its own, exactly as sent
    assert subject.received(QueueKind.INVITEE_CREATED) == [plain, replayed]
    assert subject.received(QueueKind.INVITEE_CANCELED) == []
    assert subject.received(QueueKind.OTHER) == [odd]


def test_a_body_too_large_for_a_message_travels_through_the_bucket(
    backend: str, request: pytest.FixtureRequest
) -> None:
    store = make_bodies(backend, request)
    subject = queues(backend, request, store, SMALL)
    large = delivery()
    assert len(large.body) > SMALL
    # When a delivery larger than a message may be is sent
    subject.queue.send(QueueKind.INVITEE_CREATED, large)
    # Then its body is in the bucket under its hash, and the processor gets the same delivery back
    key = f"{BODIES_PREFIX}{large.body_sha256}"
    assert store.get(key) == large.body.encode()
    assert subject.received(QueueKind.INVITEE_CREATED) == [large.model_copy(update={"body_key": key})]


def test_a_queue_that_does_not_accept_is_a_dependency_failure(backend: str, request: pytest.FixtureRequest) -> None:
    subject = queues(backend, request, None, 262_144)
    subject.break_it()
    with pytest.raises(DependencyUnavailable):
        subject.queue.send(QueueKind.INVITEE_CREATED, delivery())


# -- signing keys ------------------------------------------------------------------------------


@pytest.fixture
def signing_keys(backend: str, request: pytest.FixtureRequest) -> FakeSigningKeys | SecretsManagerSigningKeys:
    if backend == "fake":
        return FakeSigningKeys(prefix=PREFIX)
    return SecretsManagerSigningKeys(PREFIX, client=moto_client("secretsmanager", request))


def test_a_connections_keys_are_its_current_then_its_previous(
    signing_keys: FakeSigningKeys | SecretsManagerSigningKeys,
) -> None:
    # Given a connection with no keys
    assert signing_keys.keys_for("acme") is None
    assert signing_keys.stored("acme") is None
    assert signing_keys.refresh("acme") is None
    assert signing_keys.secret_name("acme") == f"{PREFIX}acme"
    # When its keys are put, then rotated
    signing_keys.put("acme", "k1")
    assert tuple(signing_keys.keys_for("acme") or ()) == (b"k1",)
    signing_keys.put("acme", "k2", "k1")
    # Then the receiver verifies with the new key first, the old one still
    assert tuple(signing_keys.keys_for("acme") or ()) == (b"k2", b"k1")
    assert signing_keys.stored("acme") == ("k2", "k1")
    assert signing_keys.keys_for("other") is None


def test_a_connection_without_a_usable_key_refuses_everything(
    signing_keys: FakeSigningKeys | SecretsManagerSigningKeys,
) -> None:
    signing_keys.put("acme", "k1")
    assert signing_keys.keys_for("acme")
    # When its keys are cleared (disconnected)
    signing_keys.put("acme", None, None)
    # Then there is no key to verify with, and the store says so
    assert signing_keys.keys_for("acme") is None
    assert signing_keys.stored("acme") == (None, None)
