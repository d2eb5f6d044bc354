"""Read API Lambda: ``GET /v1/connections/{connection_id}/bookings`` (API Gateway REST, IAM-signed)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ReadApiSettings
from calsync.errors import DependencyUnavailable
from calsync.observability import logger
from calsync.read.bookings import BookingsQuery, QueryError, bookings_page

# The ids calsync registers (connections.connect.CONNECTION_ID): anything else cannot exist.
CONNECTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


@cache
def services() -> compose.ReadApi:
    return compose.read_api(ReadApiSettings.from_env())


def reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def not_found(connection_id: str) -> dict[str, Any]:
    return reply(404, {"error": "not_found", "message": f"no connection {connection_id!r}"})


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.clear_state()
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    connection_id = str((event.get("pathParameters") or {}).get("connection_id") or "")
    if not CONNECTION_ID.fullmatch(connection_id):
        return reply(404, {"error": "not_found", "message": "no such connection"})
    try:
        query = BookingsQuery.parse(event.get("queryStringParameters") or {})
        api = services()
        if not api.exists(connection_id):
            return not_found(connection_id)
        page = bookings_page(connection_id, query, api.bookings, api.cursor_key())
    except QueryError as exc:
        logger.warning("read refused", extra={"connection_id": connection_id, "parameter": exc.parameter})
        return reply(400, exc.as_json())
    except DependencyUnavailable as exc:
        logger.error("read: AWS unavailable", extra={"connection_id": connection_id, "detail": str(exc)})
        return reply(503, {"error": "unavailable", "message": "Temporarily unavailable; retry later."})
    logger.info("bookings read", extra={"connection_id": connection_id, "count": len(page["bookings"])})
    return reply(200, page)
