"""Webhook intake's ports in memory: the receiver's ``SigningKeys`` (and the connections'
``SigningKeyStore``, one store for both as ``SecretsManagerSigningKeys`` is), the
``DeliveryQueue`` (``SqsDeliveryQueue``) and the ``DeliveryBodies`` bucket (``S3DeliveryBodies``).
tests/contract/test_intake.py runs the same behaviour against the AWS adapters on moto."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from calsync.errors import DependencyUnavailable
from calsync.intake.delivery import (
    BODIES_PREFIX,
    QUEUE_MESSAGE_MAX_BYTES,
    Delivery,
    DeliveryBodies,
    body_key,
    message_attributes,
    message_body,
    message_size,
)
from calsync.intake.receive import ConnectionRemoved
from calsync.intake.routing import QueueKind


class FakeSigningKeys:
    """Each connection's ``(current, previous)`` keys. No cache: ``keys_for`` always sees the
    latest ``put``, so ``refresh`` never finds anything newer (None). ``fail``: the store is
    down (``DependencyUnavailable``); ``reads`` counts ``keys_for`` calls."""

    def __init__(
        self,
        keys: Mapping[str, Sequence[str | bytes]] | None = None,
        *,
        fail: bool = False,
        prefix: str = "calsync/test/signing-keys/",
    ) -> None:
        """``keys``: each connection's keys, current first (then the previous one)."""
        self.prefix = prefix
        self.keys: dict[str, tuple[str | None, str | None]] = {}
        for connection_id, given in (keys or {}).items():
            texts = [k.decode() if isinstance(k, bytes) else k for k in given]
            self.keys[connection_id] = (texts[0] if texts else None, texts[1] if len(texts) > 1 else None)
        self.fail = fail
        self.reads = 0
        self.removed: set[str] = set()  # disconnected connections: keys_for raises ConnectionRemoved
        self.looked_up: list[str] = []  # the ids whose keys were read

    def _check(self) -> None:
        if self.fail:
            raise DependencyUnavailable("secretsmanager:GetSecretValue failed: ThrottlingException")

    def secret_name(self, connection_id: str) -> str:
        return f"{self.prefix}{connection_id}"

    # -- SigningKeys (the receiver) -----------------------------------------------------------

    def keys_for(self, connection_id: str) -> tuple[bytes, ...] | None:
        self.reads += 1
        self._check()
        if connection_id in self.removed:
            raise ConnectionRemoved(connection_id)
        self.looked_up.append(connection_id)
        found = self.keys.get(connection_id)
        usable = tuple(k.encode() for k in found or () if k)
        return usable or None

    def refresh(self, connection_id: str) -> tuple[bytes, ...] | None:
        self._check()
        return None

    # -- SigningKeyStore (connections) ----------------------------------------------------------

    def put(self, connection_id: str, current: str | None, previous: str | None = None) -> None:
        self._check()
        self.keys[connection_id] = (current, previous)

    def stored(self, connection_id: str) -> tuple[str | None, str | None] | None:
        self._check()
        found = self.keys.get(connection_id)
        return (found[0] or None, found[1] or None) if found is not None else None


class FakeDeliveryQueue:
    """The intake queues: ``sent`` in order, with their kind. With ``bodies``, a message over
    ``max_message_bytes`` has its body put there and travels as the key (``body_key`` set), as
    over SQS. ``fail``: the queue does not accept (``DependencyUnavailable``), nothing is kept;
    ``attempts`` has every send, accepted or not."""

    def __init__(
        self,
        *,
        fail: bool = False,
        bodies: DeliveryBodies | None = None,
        max_message_bytes: int = QUEUE_MESSAGE_MAX_BYTES,
    ) -> None:
        self.sent: list[tuple[QueueKind, Delivery]] = []
        self.attempts: list[tuple[QueueKind, Delivery]] = []
        self.fail = fail
        self.bodies = bodies
        self.max_message_bytes = max_message_bytes

    def send(self, kind: QueueKind, delivery: Delivery) -> None:
        self.attempts.append((kind, delivery))
        if self.fail:
            raise DependencyUnavailable(f"sqs:SendMessage to {kind} failed: ServiceUnavailable")
        size = message_size(message_body(delivery), message_attributes(delivery))
        if self.bodies is not None and size > self.max_message_bytes:
            key = body_key(delivery)
            self.bodies.put(key, delivery.body.encode("utf-8", "surrogatepass"))
            delivery = delivery.model_copy(update={"body_key": key})
        self.sent.append((kind, delivery))

    def received(self, kind: QueueKind) -> list[Delivery]:
        """What a processor of ``kind``'s queue receives, in order."""
        return [delivery for sent_kind, delivery in self.sent if sent_kind is kind]


class FakeDeliveryBodies:
    """The delivery-bodies bucket: bytes by key. ``fail``: it does not accept a put."""

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.fail = False

    def put(self, key: str, body: bytes) -> None:
        if self.fail:
            raise DependencyUnavailable("s3:PutObject (delivery body) failed: ServiceUnavailable")
        self.objects[key] = bytes(body)

    def get(self, key: str) -> bytes | None:
        return self.objects.get(key)

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def stored_keys(self) -> Iterator[str]:
        return iter(sorted(k for k in self.objects if k.startswith(BODIES_PREFIX)))
