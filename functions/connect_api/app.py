"""``POST /v1/connections`` (API Gateway REST, IAM-signed): start connecting a Calendly
organization; answers the OAuth link ``calsync connect oauth`` prints, for an app's button."""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose, timefmt
from calsync.config import ConnectApiSettings
from calsync.connections.callback import api_base
from calsync.connections.connect import ConnectError, begin_oauth
from calsync.connections.start_request import parse_start_request
from calsync.errors import DependencyUnavailable
from calsync.observability import logger

ERRORS = {400: "bad_request", 404: "not_found", 409: "conflict"}


@cache
def services() -> compose.ConnectApi:
    return compose.connect_api(ConnectApiSettings.from_env())


def reply(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def refusal(exc: ConnectError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": ERRORS.get(exc.status, "unavailable"), "message": str(exc)}
    if exc.status == 400:
        body["parameter"] = exc.parameter or "body"
    return reply(exc.status if exc.status in ERRORS else 503, body)


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.clear_state()
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    try:
        request = parse_start_request(event.get("body"), is_base64=bool(event.get("isBase64Encoded")))
        api = services()
        started = begin_oauth(
            api.registry,
            api.oauth_app,
            connection_id=request.connection_id,
            redirect_uri=f"{api_base(event)}/oauth/callback",
            now=time.time(),
            authorize_url=api.authorize_url,
            return_to=request.return_to,
            return_origins=api.return_origins,
            status_of=api.status_of,
        )
    except ConnectError as exc:
        logger.warning(
            "connect refused", extra={"reason": exc.reason, "status": exc.status, "parameter": exc.parameter}
        )
        return refusal(exc)
    except DependencyUnavailable as exc:
        logger.error("connect: AWS unavailable", extra={"detail": str(exc)})
        return reply(503, {"error": "unavailable", "message": "Temporarily unavailable; retry later."})
    logger.info(
        "connection started", extra={"connection_id": request.connection_id, "return_to": bool(request.return_to)}
    )
    expires_at = timefmt.iso_z(timefmt.from_epoch(started.expires_at))
    return reply(201, {"authorize_url": started.authorize_url, "expires_at": expires_at})
