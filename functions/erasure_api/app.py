"""Erasure API Lambda (API Gateway REST, IAM-signed; docs/erasure.md):

- ``POST /v1/connections/{connection_id}/erasures`` and ``POST /v1/erasures`` ``{"email"}``:
  202 ``{"erasure_id"}``; the worker (functions/erasure_worker) does the erasing.
- ``GET /v1/connections/{connection_id}/erasures/{erasure_id}`` and ``GET /v1/erasures/{erasure_id}``:
  the request's status and counts (a tenant's path shows that tenant's requests only).

The address is read from the body only and never logged; the request record keeps its keyed hash.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ErasureApiSettings
from calsync.erasure.requests import BadRequest, parse_email, request_erasure, visible
from calsync.errors import DependencyUnavailable
from calsync.observability import logger

CONNECTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # connections.connect.CONNECTION_ID
ERASURE_ID = re.compile(r"[0-9a-f]{32}")  # what request_erasure issues: anything else cannot exist
TENANT = "/v1/connections/{connection_id}/erasures"
EVERYWHERE = "/v1/erasures"


@cache
def services() -> compose.ErasureApi:
    return compose.erasure_api(ErasureApiSettings.from_env())


def reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def not_found(what: str) -> dict[str, Any]:
    return reply(404, {"error": "not_found", "message": f"no such {what}"})


def _body(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("body", "the body is not valid base64") from None
    return body.encode("utf-8", "surrogatepass")


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.clear_state()
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    resource, method = str(event.get("resource") or ""), str(event.get("httpMethod") or "")
    params = event.get("pathParameters") or {}
    connection_id = str(params.get("connection_id") or "") if resource.startswith(TENANT) else None
    if connection_id is not None and not CONNECTION_ID.fullmatch(connection_id):
        return not_found("connection")
    try:
        api = services()
        if connection_id is not None and not api.exists(connection_id):
            return not_found("connection")
        unknown = sorted(event.get("queryStringParameters") or {})  # no erasure route takes one
        if unknown:
            raise BadRequest(unknown[0], f"{unknown[0]} is not a parameter of this route (it takes none)")
        if method == "POST" and resource in (TENANT, EVERYWHERE):
            identity = (event.get("requestContext") or {}).get("identity") or {}
            return _request(api, _body(event), connection_id, identity.get("userArn") or identity.get("caller"))
        if method == "GET" and resource in (f"{TENANT}/{{erasure_id}}", f"{EVERYWHERE}/{{erasure_id}}"):
            erasure_id = str(params.get("erasure_id") or "")
            found = api.requests.get(erasure_id) if ERASURE_ID.fullmatch(erasure_id) else None
            request = visible(found, connection_id)
            return reply(200, request.view()) if request is not None else not_found("erasure")
    except BadRequest as exc:
        logger.warning("erasure refused", extra={"connection_id": connection_id, "parameter": exc.parameter})
        return reply(400, exc.as_json())
    except DependencyUnavailable as exc:
        logger.error("erasure API: AWS unavailable", extra={"connection_id": connection_id, "detail": str(exc)})
        return reply(503, {"error": "unavailable", "message": "Temporarily unavailable; retry later."})
    return not_found("route")


def _request(api: compose.ErasureApi, body: bytes, connection_id: str | None, caller: str | None) -> dict[str, Any]:
    email = parse_email(body)
    request = request_erasure(
        email,
        connection_id,
        requests=api.requests,
        queue=api.queue,
        address_hash=api.address_hash,
        now=datetime.now(UTC),
        requested_by=str(caller) if caller else None,
    )
    logger.info("erasure requested", extra={"erasure_id": request.erasure_id, "connection_id": connection_id})
    return reply(202, {"erasure_id": request.erasure_id})
