"""Disconnect API Lambda: ``DELETE /v1/connections/{connection_id}`` (API Gateway REST, IAM-signed).

200 with what each step did; 404 unknown; 409 busy (a refresh, a connect or another disconnect
holds the connection); 400 for a bad ``erase_data``; 503 when AWS or Calendly failed part-way:
the connection is removed, the body names the steps left, and the same request finishes them.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ConnectionSettings
from calsync.connections.connect import CONNECTION_ID
from calsync.connections.disconnect import DisconnectError, Disconnector
from calsync.connections.each import seconds_left
from calsync.errors import DependencyUnavailable
from calsync.observability import logger

MARGIN_MS = 5_000  # what the answer needs after the last step


@cache
def services() -> Disconnector:
    return compose.disconnector(ConnectionSettings.from_env())


def reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def erase_data(event: dict[str, Any]) -> bool | None:
    """``?erase_data=``: true/false (any case; absent is false), else None (a 400)."""
    value = str((event.get("queryStringParameters") or {}).get("erase_data", "false")).lower()
    return {"true": True, "false": False}.get(value)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.clear_state()
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    connection_id = str((event.get("pathParameters") or {}).get("connection_id") or "")
    if not CONNECTION_ID.match(connection_id):
        return reply(404, {"error": "not_found", "message": "no such connection"})
    erase = erase_data(event)
    if erase is None:
        message = "erase_data must be true or false"
        return reply(400, {"error": "bad_request", "message": message, "parameter": "erase_data"})
    time_left = seconds_left(lambda: context.get_remaining_time_in_millis() - MARGIN_MS)
    try:
        done = services().disconnect(connection_id, erase_data=erase, time_left=time_left)
    except DisconnectError as exc:
        logger.warning("disconnect refused", extra={"connection_id": connection_id, "reason": exc.reason})
        return reply(exc.status, exc.as_json())
    except DependencyUnavailable as exc:
        logger.error("disconnect: AWS unavailable", extra={"connection_id": connection_id, "detail": str(exc)})
        message = "The connection could not be read or changed now; send the same request again later."
        return reply(503, {"error": "unavailable", "message": message})
    fields = {"connection_id": connection_id, "steps": {k: v["outcome"] for k, v in done.steps.items()}}
    if not done.complete:
        logger.error("disconnect incomplete", extra={**fields, "remaining": done.remaining})
        return reply(503, done.as_json())
    logger.info("disconnected", extra=fields)
    return reply(200, done.as_json())
