"""Scheduled (hourly): every connection's webhook subscription exists, is enabled, delivers."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose, timefmt
from calsync.config import WatchdogSettings
from calsync.connections.each import seconds_left
from calsync.connections.gaps import Gap
from calsync.connections.records import Connection
from calsync.connections.watchdog import Health, Watchdog
from calsync.observability import MetricUnit, logger, metrics

_METRICS = {
    Health.FAILING: "SubscriptionsFailing",
    Health.RECREATED: "SubscriptionsRecreated",
    Health.ERROR: "SubscriptionChecksFailed",
}


@cache
def services() -> Watchdog:
    return compose.watchdog(WatchdogSettings.from_env(), report=_report, report_gap=_report_gap)


def _report(health: Health, connection: Connection, detail: str) -> None:
    if name := _METRICS.get(health):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    log = logger.info if health in (Health.HEALTHY, Health.SKIPPED) else logger.warning
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


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    results = services().run(seconds_left(context.get_remaining_time_in_millis))
    return {cid: str(health) for cid, health in results.items()}
