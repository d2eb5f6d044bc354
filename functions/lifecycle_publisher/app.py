"""Lifecycle publisher Lambda: the bookings table's stream in, lifecycle events on the bus.

Events come from old vs new images (a write that changed nothing publishes nothing); a record
whose publishing failed is reported alone and retried, so a crash between the table write
and the publish loses nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import PublisherSettings
from calsync.lifecycle.publish import publish_change
from calsync.observability import MetricUnit, logger, metrics
from calsync.store.lifecycle import stream_image

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@cache
def services() -> compose.Publisher:
    return compose.publisher(PublisherSettings.from_env())


def record_handler(record: DynamoDBRecord) -> None:
    ports = services()
    change = record.raw_event.get("dynamodb") or {}
    published = publish_change(
        stream_image(change.get("OldImage")),
        stream_image(change.get("NewImage")),
        images=ports.images,
        bus=ports.bus,
        schedules=ports.schedules,
        claims=ports.images,
        claimant=str(record.raw_event.get("eventID") or change.get("SequenceNumber")),
        leads=ports.leads,
        now=datetime.now(UTC),
    )
    if published.reminders.put or published.reminders.delete:
        logger.info(
            "reminders updated",
            extra={"scheduled": len(published.reminders.put), "dropped": len(published.reminders.delete)},
        )
    for event in published.events:
        metrics.add_metric(name="LifecycleEventsPublished", unit=MetricUnit.Count, value=1)
        logger.info(
            "lifecycle event published",
            extra={
                "detail_type": event.detail_type.value,
                "event_id": event.event_id,
                "connection_id": event.connection_id,
            },
        )


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
