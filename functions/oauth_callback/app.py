"""GET /oauth/callback?code=...&state=...: finish connecting a Calendly organization."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ConnectionSettings
from calsync.connections.callback import api_base, asks_for_json, page
from calsync.connections.connect import ConnectError
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
        logger.warning("oauth callback: authorization denied", extra={"error": query.get("error")})
        return page(400, "Not connected", "Calendly did not grant access.", "access_denied", wants_json)
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
            )
    except ConnectError as exc:
        metrics.add_metric(name="ConnectFailures", unit=MetricUnit.Count, value=1)
        logger.warning("oauth callback refused", extra={"reason": exc.reason, "status": exc.status})
        return page(exc.status, "Not connected", str(exc), exc.reason, wants_json)
    except DependencyUnavailable as exc:
        logger.error("oauth callback: AWS unavailable", extra={"detail": str(exc)})
        return page(
            503, "Not connected", "Temporarily unavailable; start the connection again.", "unavailable", wants_json
        )
    metrics.add_metric(name="ConnectionsConnected", unit=MetricUnit.Count, value=1)
    logger.info("connection connected", extra={"connection_id": connection.connection_id, "kind": connection.kind})
    return page(
        200,
        "Connected",
        f"Calendly organization connected as '{connection.connection_id}'; webhooks are subscribed.",
        "connected",
        wants_json,
    )
