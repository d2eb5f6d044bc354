"""Erasure worker Lambda: consumes the erasure queue (one request a batch) and runs the request
with the use case ``calsync erase`` runs (``calsync.erasure.requests.run_job``). A failure is
retried by the queue; the last receive marks the request ``failed`` (then the DLQ, alarmed).
A message that is not a job at all can never succeed: it is dropped (not logged: it may hold an
address) and counted. Nothing here logs the address."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from calsync import compose
from calsync.config import ErasureWorkerSettings
from calsync.erasure.requests import ErasureJob, run_job
from calsync.observability import MetricUnit, flush_metrics, logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def services() -> compose.ErasureWorker:
    return compose.erasure_worker(ErasureWorkerSettings.from_env())


def record_handler(record: SQSRecord) -> None:
    try:
        job = ErasureJob.model_validate_json(record.body)
    except ValidationError:
        logger.warning("erasure message is not a job; dropped", extra={"message_id": record.message_id})
        metrics.add_metric(name="ErasureMessagesDropped", unit=MetricUnit.Count, value=1)
        return
    worker = services()
    receives = int(record.attributes.approximate_receive_count or 1)
    done = run_job(
        job,
        worker.requests,
        worker.stores,
        now=lambda: datetime.now(UTC),
        final_attempt=receives >= worker.max_receives,
    )
    extra = {"erasure_id": job.erasure_id, "connection_id": job.connection_id}
    if done is None:
        logger.warning("erasure message names no request; dropped", extra=extra)
        return
    logger.info("erasure done", extra={**extra, "status": done.status.value, "counts": done.counts})


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    logger.clear_state()
    try:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )
    finally:
        flush_metrics()
