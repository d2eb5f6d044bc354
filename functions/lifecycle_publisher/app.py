"""Lifecycle publisher Lambda: the bookings table's stream in, lifecycle events on the bus.

Events come from old vs new images (a write that changed nothing publishes nothing); a record
whose publishing failed is reported alone and retried, so a crash between the table write
and the publish loses nothing. One INFO line per batch (the events' ids and the reminders'
counts); LifecycleEventsPublished is counted from it by a metric filter (template.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
from calsync.observability import logger
from calsync.store.lifecycle import stream_image

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


@cache
def services() -> compose.Publisher:
    return compose.publisher(PublisherSettings.from_env())


@dataclass
class BatchTally:
    """What one invocation published, for its one log line."""

    records: int = 0
    event_ids: list[str] = field(default_factory=list)
    scheduled: int = 0
    dropped: int = 0

    def fields(self, failed: int) -> dict[str, object]:
        counts = {"scheduled": self.scheduled, "dropped": self.dropped, "failed": failed}
        return {
            "records": self.records,
            "events": len(self.event_ids),
            **{k: v for k, v in counts.items() if v},
            "event_ids": self.event_ids,
        }


_tally = BatchTally()


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
    _tally.records += 1
    _tally.scheduled += len(published.reminders.put)
    _tally.dropped += len(published.reminders.delete)
    _tally.event_ids.extend(event.event_id for event in published.events)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _tally
    _tally = BatchTally()
    logger.clear_state()  # nothing carried over from an earlier invocation (or another handler in-process)
    logger.set_correlation_id(None)  # the lifecycle event ids are this line's correlation ids
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    logger.info("stream batch published", extra=_tally.fields(failed=len(response.get("batchItemFailures", []))))
    return response
