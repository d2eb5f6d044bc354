"""Scheduled (hourly): dispatch one unit per active connection to the watchdog queue, and count the
connections by health (the dashboard). From that queue: check one connection's webhook subscription
(exists, enabled, delivering) under its lease (calsync.fanout; docs/scale.md). Without a work
queue: every connection here."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose, timefmt
from calsync.config import WatchdogSettings
from calsync.connections.each import seconds_left
from calsync.connections.gaps import Gap
from calsync.connections.records import Connection
from calsync.connections.watchdog import Health, Watchdog
from calsync.fanout.handling import dispatched, handle_unit
from calsync.fanout.work import Job
from calsync.fanout.worker import Worker
from calsync.observability import MetricUnit, logger, metrics

if TYPE_CHECKING:
    from calsync.fanout.aws_queue import SqsWorkQueue

_METRICS = {
    Health.FAILING: "SubscriptionsFailing",
    Health.RECREATED: "SubscriptionsRecreated",
    Health.ERROR: "SubscriptionChecksFailed",
}
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def settings() -> WatchdogSettings:
    return WatchdogSettings.from_env()


@cache
def services() -> Watchdog:
    return compose.watchdog(settings(), report=_report, report_gap=_report_gap)


@cache
def queue() -> SqsWorkQueue:
    return compose.work_queue(settings())


def _report(health: Health, connection: Connection, detail: str) -> None:
    if name := _METRICS.get(health):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    log = logger.info if health in (Health.HEALTHY, Health.SKIPPED, Health.WIDENED) else logger.warning
    fields = {"connection_id": connection.connection_id, "health": str(health), "detail": detail}
    log("subscription check", extra=fields)


def _report_gap(connection: Connection, gap: Gap, error: str | None) -> None:
    fields = {"connection_id": connection.connection_id, "since": timefmt.iso_z(gap.since), "reason": gap.reason}
    if error is None:
        metrics.add_metric(name="GapReconcilesRequested", unit=MetricUnit.Count, value=1)
        logger.info("gap reconcile requested", extra=fields)
        return
    # counted with the failed checks (alarmed); the connection records it and the next run sends it
    metrics.add_metric(name="SubscriptionChecksFailed", unit=MetricUnit.Count, value=1)
    logger.warning("gap reconcile request failed", extra={**fields, "detail": error})


def run_unit(body: str, context: LambdaContext) -> str:
    """One unit of work (a watchdog-queue record's body): the connection's health."""
    watchdog, owner = services(), context.aws_request_id
    worker = Worker(
        watchdog.registry.get,
        {Job.WATCHDOG: lambda connection: str(watchdog.one(connection, owner=owner))},
        queue().requeue,
    )
    return handle_unit(body, worker)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    if "Records" in event:
        handle: Any = lambda record: run_unit(record.body, context)  # noqa: E731
        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    if settings().work_queue_url:
        done = compose.fanout_dispatcher(Job.WATCHDOG, settings()).dispatch(context.aws_request_id)
        return dispatched(done, health=True)
    results = services().run(seconds_left(context.get_remaining_time_in_millis))
    return {cid: str(health) for cid, health in results.items()}
