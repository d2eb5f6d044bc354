"""GET /oauth/callback?code=...&state=...: finish connecting a Calendly organization."""

from __future__ import annotations

import html
import json
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ConnectionSettings
from calsync.connections.connect import ConnectError
from calsync.errors import DependencyUnavailable
from calsync.observability import MetricUnit, logger, metrics


@cache
def services() -> compose.Connections:
    return compose.connections(ConnectionSettings.from_env())


def api_base(event: dict[str, Any]) -> str:
    """The public base URL of this API as the caller reached it: the execute-api host needs
    the stage in the path, a custom domain (base path mapping) or the local stack does not."""
    context = event.get("requestContext") or {}
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    host = context.get("domainName") or headers.get("host", "localhost")
    scheme = headers.get("x-forwarded-proto", "https")
    stage = context.get("stage")
    prefix = f"/{stage}" if stage and ".execute-api." in str(host) else ""
    return f"{scheme}://{host}{prefix}"


def page(status: int, title: str, message: str, reason: str, wants_json: bool) -> dict[str, Any]:
    if wants_json:
        body = json.dumps({"status": "connected"} if status == 200 else {"error": reason, "message": message})
        return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": body}
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>calsync: {html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f"<p><small>{html.escape(reason)}</small></p></body></html>"
    )
    return {"statusCode": status, "headers": {"Content-Type": "text/html; charset=utf-8"}, "body": text}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    wants_json = "application/json" in headers.get("accept", "")
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
