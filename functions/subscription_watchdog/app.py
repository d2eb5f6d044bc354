"""Scheduled (hourly): every connection's webhook subscription exists, is enabled, delivers."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose, timefmt
from calsync.config import WatchdogSettings
from calsync.connections.gaps import Gap
from calsync.connections.ports import ReconcileRequests
from calsync.connections.records import Connection
from calsync.connections.watchdog import Health, Watchdog
from calsync.observability import MetricUnit, logger, metrics

_METRICS = {
    Health.FAILING: "SubscriptionsFailing",
    Health.RECREATED: "SubscriptionsRecreated",
    Health.ERROR: "SubscriptionChecksFailed",
}


@cache
def settings() -> WatchdogSettings:
    return WatchdogSettings.from_env()


@cache
def services() -> compose.Connections:
    return compose.connections(settings())


@cache
def reconcile_requests() -> ReconcileRequests:
    return compose.reconcile_requests(settings())


def _report(health: Health, connection: Connection, detail: str) -> None:
    name = _METRICS.get(health)
    if name:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    log = logger.info if health in (Health.HEALTHY, Health.SKIPPED) else logger.warning
    log(
        "subscription check", extra={"connection_id": connection.connection_id, "health": str(health), "detail": detail}
    )


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
    connections = services()
    watchdog = Watchdog(
        registry=connections.registry,
        calendly_for=connections.calendly_for,
        signing_key_for=connections.signing_key_for,
        reconcile=reconcile_requests(),
        gap_margin=timedelta(seconds=settings().gap_margin_seconds),
        report=_report,
        report_gap=_report_gap,
    )
    return {cid: str(health) for cid, health in watchdog.run().items()}
