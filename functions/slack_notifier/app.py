"""Slack notifier Lambda: lifecycle events (bus → queue) to a Slack incoming webhook, each ``event_id``
once (``lifecycle.once``). A failed post is reported alone (``batchItemFailures``, never a function
error: a Slack outage is no crash), retried by the queue with back-off, then dead-lettered (alarmed)."""

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
from calsync.config import SlackSettings
from calsync.intake.aws_queues import backing_off
from calsync.lifecycle import outbound
from calsync.lifecycle.once import Delivered, deliver_once, event_id_of
from calsync.lifecycle.slack import notify_slack
from calsync.observability import MetricUnit, logger, metrics

# A batch that failed whole (Slack down) is reported record by record, like a partial one.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def services() -> tuple[SlackSettings, compose.Consumer]:
    settings = SlackSettings.from_env()
    return settings, compose.consumer(settings)


def record_handler(record: SQSRecord) -> None:
    settings, consumer = services()
    event: dict[str, Any] = json.loads(record.body)
    fields = {"detail_type": event.get("detail-type"), "event_id": event_id_of(event)}
    attempt = int(record.attributes.approximate_receive_count or 1)
    endpoint, personal = consumer.endpoint, settings.slack_personal_fields
    try:
        with backing_off(record.event_source_arn, record.receipt_handle, attempt):
            delivered = deliver_once(
                event,
                lambda: notify_slack(event, endpoint=endpoint.get(), fields=personal, send=outbound.post),
                ledger=consumer.ledger,
                claimant=record.message_id,
                now=datetime.now(UTC),
            )
    except Exception as exc:  # reported for the queue's retry (batchItemFailures), never swallowed
        metrics.add_metric(name="SlackNotificationsFailed", unit=MetricUnit.Count, value=1)
        logger.warning("slack notification failed", extra={**fields, "error": type(exc).__name__, "attempt": attempt})
        raise
    if delivered is Delivered.ALREADY:
        metrics.add_metric(name="SlackDuplicatesSkipped", unit=MetricUnit.Count, value=1)
        logger.info("slack already notified", extra=fields)
        return
    if delivered is Delivered.UNCONFIRMED:
        logger.warning("slack notified, claim not confirmed", extra=fields)
    metrics.add_metric(name="SlackNotificationsSent", unit=MetricUnit.Count, value=1)
    logger.info("slack notified", extra=fields)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
