"""Signed HTTP forwarder Lambda: lifecycle events (bus → queue) POSTed with Standard Webhooks signatures,
each ``event_id`` once (``lifecycle.once``). A failed post is reported alone (``batchItemFailures``, never
a function error: an outage is no crash), retried by the queue with back-off, then dead-lettered (alarmed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ForwarderSettings
from calsync.intake.aws_queues import backing_off
from calsync.lifecycle import outbound
from calsync.lifecycle.forward import forward
from calsync.lifecycle.once import Delivered, deliver_once, event_id_of
from calsync.observability import MetricUnit, logger, metrics

# A batch that failed whole (the endpoint down) is reported record by record, like a partial one.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def services() -> compose.Consumer:
    return compose.consumer(ForwarderSettings.from_env())


def record_handler(record: SQSRecord) -> None:
    consumer, now = services(), datetime.now(UTC)
    event: dict[str, Any] = json.loads(record.body)
    fields = {"detail_type": event.get("detail-type"), "event_id": event_id_of(event)}
    attempt = int(record.attributes.approximate_receive_count or 1)
    try:
        with backing_off(record.event_source_arn, record.receipt_handle, attempt):
            delivered = deliver_once(
                event,
                lambda: forward(event, endpoint=consumer.endpoint.get(), send=outbound.post, now=now),
                ledger=consumer.ledger,
                claimant=record.message_id,
                now=now,
            )
    except Exception as exc:  # reported for the queue's retry (batchItemFailures), never swallowed
        metrics.add_metric(name="ForwardsFailed", unit=MetricUnit.Count, value=1)
        logger.warning("event not forwarded", extra={**fields, "error": type(exc).__name__, "attempt": attempt})
        raise
    if delivered is Delivered.ALREADY:
        metrics.add_metric(name="ForwardDuplicatesSkipped", unit=MetricUnit.Count, value=1)
        logger.info("event already forwarded", extra=fields)
        return
    if delivered is Delivered.UNCONFIRMED:
        logger.warning("event forwarded, claim not confirmed", extra=fields)
    metrics.add_metric(name="EventsForwarded", unit=MetricUnit.Count, value=1)
    logger.info("event forwarded", extra=fields)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
