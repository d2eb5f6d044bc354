"""Reconciler: on its schedule, every active connection over the upcoming and recent windows
(resuming from each connection's cursor); from the reconcile-requests queue, one requested
gap (a request that cannot finish in its budget is continued by a new request)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ReconcilerSettings
from calsync.observability import MetricUnit, logger, metrics
from calsync.reconcile import scheduled as service
from calsync.reconcile.budget import Budget
from calsync.reconcile.report import Report, scheduled_windows
from calsync.reconcile.requests import ReconcileRequest

RESERVE_SECONDS = 60  # left for writing cursors and reports (at most a tenth of the time)
# One metric per count of the report (the dashboard and alarms name them).
_COUNT_METRICS = {
    "events_seen": "ReconcileEventsSeen",
    "invitees_seen": "ReconcileInviteesSeen",
    "missing": "ReconcileMissing",
    "stale": "ReconcileStale",
    "erased": "ReconcileErased",
    "repaired": "ReconcileRepaired",
    "unreadable": "ReconcileUnreadable",
}
_RUN_METRICS = {"api_calls": "ReconcileApiCalls", "incomplete": "ReconcileIncomplete"}

processor = BatchProcessor(event_type=EventType.SQS)


@cache
def services() -> compose.Reconciling:
    return compose.reconciling(ReconcilerSettings.from_env())


def _seconds_left(context: LambdaContext) -> float:
    """The time this invocation may still spend on Calendly, the reserve kept."""
    remaining = context.get_remaining_time_in_millis() / 1000
    return max(0.0, remaining - min(RESERVE_SECONDS, remaining / 10))


def _emit(report: Report) -> None:
    values = {**report.counts, "api_calls": report.api_calls, "incomplete": int(not report.complete)}
    for key, name in (*_COUNT_METRICS.items(), *_RUN_METRICS.items()):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=values[key])
    quiet = report.complete and not report.counts["repaired"] and not report.counts["unreadable"]
    log = logger.info if quiet else logger.warning
    summary = report.as_dict()
    log("reconcile run", extra={k: v for k, v in summary.items() if k != "windows"})


def _scheduled(context: LambdaContext) -> dict[str, Any]:
    reconciling = services()
    settings = reconciling.settings
    active = [c for c in reconciling.connections.registry.all() if c.status == "active"]
    reports: dict[str, Any] = {}
    failed: list[str] = []
    for left, connection in enumerate(active):
        # Each connection gets its share of the time left, so none starves the ones after it.
        budget = Budget.for_run(settings.reconcile_api_calls, _seconds_left(context) / (len(active) - left))
        reconciler, client = reconciling.reconciler_for(connection, budget)
        windows = scheduled_windows(
            datetime.now(UTC),
            upcoming_days=settings.reconcile_upcoming_days,
            recent_days=settings.reconcile_recent_days,
        )
        try:
            with client:
                report = service.scheduled(
                    reconciler,
                    reconciling.state,
                    connection_id=connection.connection_id,
                    organization=connection.organization,
                    windows=windows,
                )
        except Exception:  # one broken connection (token, store) must not stop the others
            logger.exception("reconcile failed", extra={"connection_id": connection.connection_id})
            failed.append(connection.connection_id)
            continue
        _emit(report)
        reports[connection.connection_id] = {"complete": report.complete, "repaired": report.counts["repaired"]}
    if failed:  # the function's Errors alarm, once every other connection is done
        raise ReconcileFailed(f"reconcile failed for {len(failed)} connection(s): {', '.join(failed)}")
    return reports


class ReconcileFailed(Exception):
    """Some connections could not be reconciled (each is logged with its cause)."""


def record_handler(record: SQSRecord, context: LambdaContext) -> None:
    reconciling = services()
    settings = reconciling.settings
    request = ReconcileRequest.from_message_body(record.body)
    connection = reconciling.connections.registry.get(request.connection_id)
    if connection is None or connection.status != "active":
        logger.warning("reconcile request for no active connection", extra={"connection_id": request.connection_id})
        return  # nothing to reconcile with: not retried
    budget = Budget.for_run(settings.reconcile_api_calls, _seconds_left(context))
    reconciler, client = reconciling.reconciler_for(connection, budget)
    now = datetime.now(UTC)
    with client:
        outcome = service.requested(
            reconciler,
            reconciling.state,
            request,
            organization=connection.organization,
            horizon=now + timedelta(days=settings.reconcile_upcoming_days),
            now=lambda: datetime.now(UTC),
        )
    _emit(outcome.report)
    if outcome.continuation is not None:
        reconciling.requests.send(outcome.continuation)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | dict[str, Any]:
    if "Records" in event:
        return process_partial_response(
            event=event,
            record_handler=lambda record: record_handler(record, context),
            processor=processor,
            context=context,
        )
    started = time.monotonic()
    result = _scheduled(context)
    logger.info("reconcile schedule done", extra={"connections": len(result), "seconds": time.monotonic() - started})
    return result
