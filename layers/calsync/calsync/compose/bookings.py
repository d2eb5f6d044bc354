"""The processors' services and the bookings repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Unpack

from calsync import config
from calsync.aws import clients
from calsync.aws.clients import Aws
from calsync.compose.erasure import tombstones
from calsync.compose.intake import delivery_bodies

if TYPE_CHECKING:
    from calsync.bookings.aws_bookings import DynamoBookingsRepository
    from calsync.erasure.aws_tombstones import DynamoTombstones
    from calsync.intake.aws_bodies import S3DeliveryBodies


@dataclass(frozen=True, slots=True)
class Processor:
    repository: DynamoBookingsRepository
    archive_ttl: timedelta
    tombstones: DynamoTombstones  # its ``is_erased`` refuses deliveries about erased people
    bodies: S3DeliveryBodies | None = None  # bodies too large for a message, read back by key


def bookings_repository(table_name: str, **aws: Unpack[Aws]) -> DynamoBookingsRepository:
    from calsync.bookings.aws_bookings import DynamoBookingsRepository

    return DynamoBookingsRepository(table_name, aws.get("dynamodb"))


def processor(settings: config.ProcessorSettings, **aws: Unpack[Aws]) -> Processor:
    clients.use(clients.BATCH)
    return Processor(
        repository=bookings_repository(settings.bookings_table_name, dynamodb=aws.get("dynamodb")),
        archive_ttl=timedelta(days=settings.archive_ttl_days),
        tombstones=tombstones(settings.bookings_table_name, settings.erasure_key_secret_name, **aws),
        bodies=delivery_bodies(settings.delivery_bodies_bucket),
    )
