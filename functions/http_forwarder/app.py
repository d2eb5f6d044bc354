"""Signed HTTP forwarder Lambda: lifecycle events (from the bus, through its queue) POSTed
to the configured endpoint with Standard Webhooks signatures. A failed post is retried by
the queue with back-off, then dead-lettered (alarmed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose, outbound
from calsync.config import ForwarderSettings
from calsync.lifecycle.forward import forward
from calsync.observability import MetricUnit, logger, metrics
from calsync.store.queues import backing_off

if TYPE_CHECKING:
    from calsync.store.secret_json import CachedJsonSecret

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def services() -> CachedJsonSecret:
    return compose.forward_endpoint(ForwarderSettings.from_env())


def record_handler(record: SQSRecord) -> None:
    event: dict[str, Any] = json.loads(record.body)
    with backing_off(record.event_source_arn, record.receipt_handle, attempt(record)):
        forward(event, endpoint=services().get(), send=outbound.post, now=datetime.now(UTC))
    metrics.add_metric(name="EventsForwarded", unit=MetricUnit.Count, value=1)
    logger.info("event forwarded", extra={"detail_type": event.get("detail-type")})


def attempt(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or 1)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
