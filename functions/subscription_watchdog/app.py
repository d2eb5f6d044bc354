"""Scheduled (hourly): every connection's webhook subscription exists, is enabled, delivers."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import WatchdogSettings
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
    )
    return {cid: str(health) for cid, health in watchdog.run().items()}
