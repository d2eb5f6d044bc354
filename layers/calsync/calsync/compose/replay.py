"""Replay: what ``replay.replay`` reads and where it sends."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Unpack

from calsync.aws.clients import Aws
from calsync.compose.bookings import bookings_repository
from calsync.compose.intake import delivery_bodies
from calsync.intake.routing import QueueKind

if TYPE_CHECKING:
    from calsync.replay.replay import Replaying


def replaying(
    table_name: str,
    queue_urls: Mapping[QueueKind, str],
    *,
    bodies_bucket: str | None = None,
    **aws: Unpack[Aws],
) -> Replaying:
    """What ``replay.replay`` reads (the archive, the delivery-bodies bucket) and where it sends
    (the intake queues, large bodies by key as the receiver sends them)."""
    from calsync.intake.aws_queues import SqsDeliveryQueue
    from calsync.replay.replay import Replaying

    bodies = delivery_bodies(bodies_bucket, **aws)
    return Replaying(
        archive=bookings_repository(table_name, **aws),
        queue=SqsDeliveryQueue(queue_urls, aws.get("sqs"), bodies=bodies),
        bodies=bodies,
    )
