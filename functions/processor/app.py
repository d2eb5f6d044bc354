"""Processor Lambda: one per queue. Applies each SQS record; failures are reported alone. One INFO
line per batch (``BatchTally``: its counts reach CloudWatch through metric filters on it, template.yaml);
quarantines, which are rare, are logged and counted on their own."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.bookings.process import BatchTally, process_message
from calsync.config import ProcessorSettings
from calsync.intake.delivery import message_body_key, resolve_body
from calsync.observability import MetricUnit, flush_metrics, logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def services() -> compose.Processor:
    return compose.processor(ProcessorSettings.from_env())


_tally = BatchTally()


def record_handler(record: SQSRecord) -> None:
    ports = services()
    _tally.message_ids.append(record.message_id)
    attributes = record.raw_event.get("messageAttributes") or {}
    result = process_message(
        resolve_body(record.body, attributes, ports.bodies),  # a body too large for a message: from S3
        attributes,
        ports.repository,
        now=datetime.now(UTC),
        archive_ttl=ports.archive_ttl,
        erased_in=ports.tombstones.erased_in,  # a tombstone's scope: everywhere or one connection
    )
    if result.erased:
        # About an erased person, dated before the erasure: kept nowhere (nor its body in the bucket)
        if (key := message_body_key(attributes)) and ports.bodies is not None:
            ports.bodies.delete(key)
        metrics.add_metric(name="DeliveriesErased", unit=MetricUnit.Count, value=1)
    elif result.quarantined:
        metrics.add_metric(name="DeliveriesQuarantined", unit=MetricUnit.Count, value=1)
        fields = {"event": result.event, "message_id": record.message_id, "reason": result.quarantined}
        logger.warning("delivery quarantined", extra=fields)
    _tally.count(result)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    global _tally
    _tally = BatchTally()
    logger.clear_state()  # nothing carried over from an earlier invocation (or another handler in-process)
    logger.set_correlation_id(None)  # the message ids are this line's correlation ids
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    logger.info("batch processed", extra=_tally.fields(failed=len(response.get("batchItemFailures", []))))
    flush_metrics()
    return response
