"""Reconciler: on its schedule, one unit per active connection dispatched to the reconcile queue
(calsync.fanout; docs/scale.md), and from that queue one connection's scheduled reconcile (from its
cursor, with the whole invocation's time); from the reconcile-requests queue, one requested gap (continued by a new request when it cannot finish in its budget). The runs,
the time split and the failure isolation are ``calsync.reconcile.scheduled.Jobs``."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ReconcilerSettings
from calsync.connections.records import Connection
from calsync.fanout.handling import dispatched, handle_unit
from calsync.fanout.work import Job, WorkUnit
from calsync.fanout.worker import Worker
from calsync.observability import MetricUnit, logger, metrics
from calsync.reconcile.report import Report
from calsync.reconcile.requests import ReconcileRequest
from calsync.reconcile.scheduled import Jobs

if TYPE_CHECKING:
    from calsync.fanout.aws_queue import SqsWorkQueue

# One metric per count of the report, and two per run (the dashboard and alarms name them).
_METRICS = {
    "events_seen": "ReconcileEventsSeen",
    "invitees_seen": "ReconcileInviteesSeen",
    "missing": "ReconcileMissing",
    "stale": "ReconcileStale",
    "erased": "ReconcileErased",
    "repaired": "ReconcileRepaired",
    "unreadable": "ReconcileUnreadable",
    "api_calls": "ReconcileApiCalls",
    "incomplete": "ReconcileIncomplete",
}
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def services() -> compose.Reconciling:
    return compose.reconciling(ReconcilerSettings.from_env())


def _emit(report: Report) -> None:
    totals = report.totals()
    for key, name in _METRICS.items():
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=totals[key])
    log = logger.info if report.quiet else logger.warning
    log("reconcile run", extra={k: v for k, v in report.as_dict().items() if k != "windows"})


@cache
def queue() -> SqsWorkQueue:
    return compose.work_queue(services().settings)


def jobs(context: LambdaContext) -> Jobs:
    return services().jobs(context.get_remaining_time_in_millis, report=_emit)


def run_unit(body: str, context: LambdaContext) -> str:
    """One unit of work (a reconcile-queue record's body): the connection's reconcile, complete or not."""
    run = jobs(context)

    def step(connection: Connection) -> str:
        report = run.one_connection(connection)
        return "skipped" if report is None else ("complete" if report.complete else "incomplete")

    registry = services().connections.registry
    return handle_unit(body, Worker(registry.get, {Job.RECONCILE: step}, queue().requeue))


def record_handler(record: SQSRecord, context: LambdaContext) -> None:
    if WorkUnit.is_unit(record.body):
        run_unit(record.body, context)
        return
    request = ReconcileRequest.from_message_body(record.body)
    if jobs(context).on_request(request) is None:  # nothing to reconcile with: not retried
        logger.warning("reconcile request for no active connection", extra={"connection_id": request.connection_id})


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    if "Records" in event:
        handle = lambda record: record_handler(record, context)  # noqa: E731
        return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
    if services().settings.work_queue_url:
        return dispatched(
            compose.fanout_dispatcher(Job.RECONCILE, services().settings).dispatch(context.aws_request_id)
        )
    schedule = jobs(context).every_connection()
    for cid, failure in schedule.failed.items():  # a safe reason (connections.each), never a message
        logger.error(
            "reconcile failed", extra={"connection_id": cid, "reason": failure.reason, "detail": failure.detail}
        )
    if schedule.left:  # their cursors stay: the next run starts them
        logger.warning("reconcile schedule out of time", extra={"left": len(schedule.left), "ids": schedule.left})
    logger.info("reconcile schedule done", extra={"connections": len(schedule.reports), "failed": len(schedule.failed)})
    schedule.raise_for_failures()  # the function's Errors alarm, once every other connection is done
    return schedule.summary()
