"""The receiver's services and the intake queues (the reconciler and replay send through them too)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Unpack

from calsync import config
from calsync.aws import clients
from calsync.aws.clients import Aws
from calsync.intake.delivery import QUEUE_MESSAGE_MAX_BYTES
from calsync.intake.receive import ReceiverLimits
from calsync.intake.routing import QueueKind

if TYPE_CHECKING:
    from calsync.intake.aws_bodies import S3DeliveryBodies
    from calsync.intake.aws_queues import SqsDeliveryQueue
    from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys


@dataclass(frozen=True, slots=True)
class Receiver:
    keys: SecretsManagerSigningKeys
    queue: SqsDeliveryQueue
    limits: ReceiverLimits


def delivery_bodies(bucket: str | None, **aws: Unpack[Aws]) -> S3DeliveryBodies | None:
    """The bucket of bodies too large for a queue message (None where none is configured)."""
    from calsync.intake.aws_bodies import S3DeliveryBodies

    return S3DeliveryBodies(bucket, aws.get("s3")) if bucket else None


def delivery_queue(
    queue_urls: Mapping[QueueKind, str],
    *,
    bodies_bucket: str | None = None,
    max_message_bytes: int = QUEUE_MESSAGE_MAX_BYTES,
    **aws: Unpack[Aws],
) -> SqsDeliveryQueue:
    """The intake queues; a body too large for a message goes to ``bodies_bucket`` (by key)."""
    from calsync.intake.aws_queues import SqsDeliveryQueue

    bodies = delivery_bodies(bodies_bucket, **aws)
    return SqsDeliveryQueue(queue_urls, aws.get("sqs"), bodies=bodies, max_message_bytes=max_message_bytes)


def intake_queue(settings: config.ReceiverSettings | config.ReconcilerSettings, aws: Aws) -> SqsDeliveryQueue:
    bucket, limit = settings.delivery_bodies_bucket, settings.queue_message_max_bytes
    return delivery_queue(settings.queue_urls, bodies_bucket=bucket, max_message_bytes=limit, **aws)


def signing_keys(
    prefix: str,
    *,
    ttl_seconds: float,
    exists: Callable[[str], bool] | None = None,
    registration: Callable[[str], str | None] | None = None,
    **aws: Unpack[Aws],
) -> SecretsManagerSigningKeys:
    """Webhook signing keys, cached ``ttl_seconds``; ``exists`` (or ``registration``, which also
    tells a removed connection) vets an id before Secrets Manager."""
    from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys

    client = aws.get("secretsmanager")
    return SecretsManagerSigningKeys(
        prefix, ttl_seconds=ttl_seconds, client=client, exists=exists, registration=registration
    )


def receiver(settings: config.ReceiverSettings, **aws: Unpack[Aws]) -> Receiver:
    from calsync.connections.aws_registry import DynamoConnectionIds

    clients.use(clients.RECEIVER)  # a hanging AWS call is a 503 within ~5 s (aws/clients.py)
    # An unknown id costs a key-only registry read: forged ids never reach Secrets Manager; a
    # removed (disconnected) one is answered 410 from that read alone.
    registration = DynamoConnectionIds(settings.bookings_table_name, aws.get("dynamodb")).registration
    ttl = settings.signing_key_cache_seconds
    return Receiver(
        keys=signing_keys(settings.signing_key_prefix, ttl_seconds=ttl, registration=registration, **aws),
        queue=intake_queue(settings, aws),
        limits=ReceiverLimits(settings.signature_tolerance_seconds, settings.max_body_bytes),
    )
