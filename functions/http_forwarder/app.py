"""Signed HTTP forwarder Lambda: lifecycle events (from the bus, through its queue) POSTed
to the configured endpoint with Standard Webhooks signatures, each ``event_id`` once
(``lifecycle.once``: a copy the publisher put again is skipped). A failed post is reported
alone (``batchItemFailures``, never a function error, so an endpoint outage does not look like a
crash), retried by the queue with back-off, then dead-lettered (alarmed)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose, outbound
from calsync.config import ForwarderSettings
from calsync.consuming import ConsumerNames, consume
from calsync.lifecycle.forward import forward
from calsync.observability import logger, metrics

if TYPE_CHECKING:
    from calsync.store.consumed import DynamoLedger
    from calsync.store.secret_json import CachedJsonSecret

NAMES = ConsumerNames(
    sent="EventsForwarded",
    failed="ForwardsFailed",
    skipped="ForwardDuplicatesSkipped",
    sent_message="event forwarded",
    failed_message="event not forwarded",
    skipped_message="event already forwarded",
    unconfirmed_message="event forwarded, claim not confirmed",
)

# A batch that failed whole (the endpoint down) is reported record by record, like a partial one.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@cache
def services() -> tuple[CachedJsonSecret, DynamoLedger]:
    settings = ForwarderSettings.from_env()
    return compose.forward_endpoint(settings), compose.delivery_ledger(settings, compose.FORWARD_CONSUMER)


def record_handler(record: SQSRecord) -> None:
    endpoint, ledger = services()

    def send(event: dict[str, Any], now: datetime) -> None:
        forward(event, endpoint=endpoint.get(), send=outbound.post, now=now)

    consume(record, send, ledger=ledger, names=NAMES)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
