"""Processor Lambda: one per queue. Applies each SQS record; failures are reported alone."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ProcessorSettings
from calsync.observability import MetricUnit, logger, metrics
from calsync.processing import process_message

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def services() -> compose.Processor:
    return compose.processor(ProcessorSettings.from_env())


def record_handler(record: SQSRecord) -> None:
    ports = services()
    attributes = record.raw_event.get("messageAttributes") or {}
    result = process_message(
        record.body,
        attributes,
        ports.repository,
        now=datetime.now(UTC),
        archive_ttl=ports.archive_ttl,
        is_erased=ports.tombstones.is_erased,
    )
    fields: dict[str, object] = {"event": result.event, "message_id": record.message_id}
    if result.erased:
        # About an erased person and dated before the erasure: acknowledged, kept nowhere.
        metrics.add_metric(name="DeliveriesErased", unit=MetricUnit.Count, value=1)
        logger.info("delivery refused: about an erased person", extra=fields)
        return
    if result.quarantined:
        metrics.add_metric(name="DeliveriesQuarantined", unit=MetricUnit.Count, value=1)
        logger.warning("delivery quarantined", extra={**fields, "reason": result.quarantined})
        return
    metrics.add_metric(name="DeliveryLag", unit=MetricUnit.Seconds, value=result.lag_seconds)
    if result.duplicate:
        metrics.add_metric(name="DeliveriesDuplicate", unit=MetricUnit.Count, value=1)
    if result.changed:
        metrics.add_metric(name="DeliveriesApplied", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="DeliveriesStale", unit=MetricUnit.Count, value=1)
    logger.info("delivery processed", extra={**fields, "changed": result.changed, "duplicate": result.duplicate})


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
