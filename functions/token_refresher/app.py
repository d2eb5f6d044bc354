"""Scheduled (every 15 min): dispatch one unit per OAuth connection whose token expires within
45 min (spread over the quarter hour) to the refresh queue. From that queue: refresh one
connection's token (calsync.fanout; docs/scale.md). Without a work queue: every connection here."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ConnectionSettings
from calsync.connections.records import Connection
from calsync.connections.refresh import Outcome
from calsync.fanout.handling import dispatched, handle_unit
from calsync.fanout.work import Job
from calsync.fanout.worker import Worker
from calsync.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from calsync.fanout.aws_queue import SqsWorkQueue

_METRICS = {
    Outcome.REFRESHED: "TokensRefreshed",
    Outcome.REAUTH_REQUIRED: "ConnectionsReauthRequired",
    Outcome.FAILED: "TokenRefreshFailures",
    Outcome.UNCONFIRMED: "TokenRefreshFailures",
    Outcome.WRITE_FAILED: "TokenWriteFailures",
    Outcome.DEFERRED: "TokenRefreshesDeferred",
}
_LOUD = (Outcome.REAUTH_REQUIRED, Outcome.WRITE_FAILED, Outcome.FAILED, Outcome.UNCONFIRMED)
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def settings() -> ConnectionSettings:
    return ConnectionSettings.from_env()


@cache
def services() -> compose.Connections:
    return compose.connections(settings())


@cache
def queue() -> SqsWorkQueue:
    return compose.work_queue(settings())


def _report(outcome: str, connection: Connection, detail: str) -> None:
    name = _METRICS.get(Outcome(outcome))
    if name:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    log = logger.error if outcome in _LOUD else logger.info
    log("token refresh", extra={"connection_id": connection.connection_id, "outcome": str(outcome), "detail": detail})


def run_unit(body: str, context: LambdaContext) -> str:
    """One unit of work (a refresh-queue record's body): the connection's refresh outcome."""
    c = services()
    with c.refresher(context.get_remaining_time_in_millis, owner=context.aws_request_id, report=_report) as refresher:
        worker = Worker(
            c.registry.get, {Job.REFRESH: lambda connection: str(refresher.one(connection))}, queue().requeue
        )
        return handle_unit(body, worker)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    if "Records" in event:
        handle: Any = lambda record: run_unit(record.body, context)  # noqa: E731
        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    if settings().work_queue_url:
        return dispatched(compose.fanout_dispatcher(Job.REFRESH, settings()).dispatch(context.aws_request_id))
    remaining = context.get_remaining_time_in_millis
    with services().refresher(remaining, owner=context.aws_request_id, report=_report) as refresher:
        return {cid: str(outcome) for cid, outcome in refresher.run().items()}
