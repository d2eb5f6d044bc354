"""GET /oauth/callback?code=...&state=...: finish connecting a Calendly organization."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ConnectionSettings
from calsync.connections.callback import CallbackOutcome, answer, api_base, asks_for_json
from calsync.connections.connect import ConnectError
from calsync.connections.records import PendingAuthorization
from calsync.errors import DependencyUnavailable
from calsync.observability import MetricUnit, logger, metrics


@cache
def services() -> compose.Connections:
    return compose.connections(ConnectionSettings.from_env())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    query, wants_json = event.get("queryStringParameters") or {}, asks_for_json(event)
    if query.get("error"):
        return answer(denied(str(query.get("error")), str(query.get("state") or "")), wants_json)
    taken: list[PendingAuthorization] = []
    try:
        connections = services()
        with connections.lazy_oauth() as token_endpoint:
            connection = connections.connector().complete_oauth(
                state=query.get("state", ""),
                code=query.get("code", ""),
                token_endpoint=token_endpoint,
                app=connections.oauth_app,
                calendly_for=connections.calendly_with_token,
                api_base=api_base(event),
                taken=taken.append,
            )
    except ConnectError as exc:
        metrics.add_metric(name="ConnectFailures", unit=MetricUnit.Count, value=1)
        logger.warning("oauth callback refused", extra={"reason": exc.reason, "status": exc.status})
        return answer(CallbackOutcome(exc.status, exc.reason, str(exc), next(iter(taken), None)), wants_json)
    except DependencyUnavailable as exc:
        logger.error("oauth callback: AWS unavailable", extra={"detail": str(exc)})
        message = "Temporarily unavailable; start the connection again."
        return answer(CallbackOutcome(503, "unavailable", message, next(iter(taken), None)), wants_json)
    metrics.add_metric(name="ConnectionsConnected", unit=MetricUnit.Count, value=1)
    logger.info("connection connected", extra={"connection_id": connection.connection_id, "kind": connection.kind})
    message = f"Your Calendly organization is connected as '{connection.connection_id}'; webhooks are subscribed."
    return answer(CallbackOutcome(200, "connected", message, next(iter(taken), None)), wants_json)


def denied(error: str, state: str) -> CallbackOutcome:
    """Calendly came back with ``error`` (e.g. consent denied): the state is used up, and the
    customer goes back where the connection started from, if it said where."""
    reason = "access_denied" if error == "access_denied" else "authorization_failed"
    logger.warning("oauth callback: authorization denied", extra={"error": reason})
    try:
        pending = services().connector().abandon_oauth(state)
    except DependencyUnavailable as exc:  # the answer is the same without it, only no redirect
        logger.error("oauth callback: AWS unavailable", extra={"detail": str(exc)})
        pending = None
    return CallbackOutcome(400, reason, "Calendly did not grant access, so nothing was connected.", pending)
