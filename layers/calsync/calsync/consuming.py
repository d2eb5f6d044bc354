"""One record of a shipped consumer's queue (Slack, HTTP forwarder): the lifecycle event sent
once per ``event_id`` (``lifecycle.once``), a failure held back with the queue's back-off and
let through (the batch reports it alone, never a function error), and one log line and metric
for what happened. The consumers differ only in what they send and the names they count by."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from calsync.lifecycle.once import Delivered, Ledger, deliver_once, event_id_of
from calsync.observability import MetricUnit, logger, metrics
from calsync.store.queues import backing_off


@dataclass(frozen=True, slots=True)
class ConsumerNames:
    """The metrics and log messages of one consumer (dashboards and metric filters read them)."""

    sent: str  # metric of events sent
    failed: str  # metric of failed sends
    skipped: str  # metric of copies skipped (already sent)
    sent_message: str
    failed_message: str
    skipped_message: str
    unconfirmed_message: str


def attempt(record: SQSRecord) -> int:
    return int(record.attributes.approximate_receive_count or 1)


def consume(
    record: SQSRecord,
    send: Callable[[dict[str, Any], datetime], None],
    *,
    ledger: Ledger,
    names: ConsumerNames,
) -> None:
    """Send the record's event unless it was sent already; raise (after backing off) if it failed."""
    event: dict[str, Any] = json.loads(record.body)
    fields = {"detail_type": event.get("detail-type"), "event_id": event_id_of(event)}
    try:
        with backing_off(record.event_source_arn, record.receipt_handle, attempt(record)):
            now = datetime.now(UTC)
            delivered = deliver_once(
                event, lambda: send(event, now), ledger=ledger, claimant=record.message_id, now=now
            )
    except Exception as exc:  # reported for the queue's retry (batchItemFailures), never swallowed
        metrics.add_metric(name=names.failed, unit=MetricUnit.Count, value=1)
        logger.warning(names.failed_message, extra={**fields, "error": type(exc).__name__, "attempt": attempt(record)})
        raise
    if delivered is Delivered.ALREADY:
        metrics.add_metric(name=names.skipped, unit=MetricUnit.Count, value=1)
        logger.info(names.skipped_message, extra=fields)
        return
    if delivered is Delivered.UNCONFIRMED:
        logger.warning(names.unconfirmed_message, extra=fields)
    metrics.add_metric(name=names.sent, unit=MetricUnit.Count, value=1)
    logger.info(names.sent_message, extra=fields)
