"""Scheduled (every 15 min): refresh OAuth tokens with under 45 min left, one at a time."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ConnectionSettings
from calsync.connections.records import Connection
from calsync.connections.refresh import Outcome
from calsync.observability import MetricUnit, logger, metrics

_METRICS = {
    Outcome.REFRESHED: "TokensRefreshed",
    Outcome.REAUTH_REQUIRED: "ConnectionsReauthRequired",
    Outcome.FAILED: "TokenRefreshFailures",
    Outcome.UNCONFIRMED: "TokenRefreshFailures",
    Outcome.WRITE_FAILED: "TokenWriteFailures",
    Outcome.DEFERRED: "TokenRefreshesDeferred",
}
_LOUD = (Outcome.REAUTH_REQUIRED, Outcome.WRITE_FAILED, Outcome.FAILED, Outcome.UNCONFIRMED)


@cache
def services() -> compose.Connections:
    return compose.connections(ConnectionSettings.from_env())


def _report(outcome: str, connection: Connection, detail: str) -> None:
    name = _METRICS.get(Outcome(outcome))
    if name:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    log = logger.error if outcome in _LOUD else logger.info
    log("token refresh", extra={"connection_id": connection.connection_id, "outcome": str(outcome), "detail": detail})


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
    remaining = context.get_remaining_time_in_millis
    with services().refresher(remaining, owner=context.aws_request_id, report=_report) as refresher:
        return {cid: str(outcome) for cid, outcome in refresher.run().items()}
