"""Actions API Lambda (API Gateway REST, IAM-signed; docs/actions.md): act on a connection's
Calendly through its managed token.

- ``POST /v1/connections/{connection_id}/bookings``: book (201, the booking as stored);
- ``POST …/bookings/{invitee_uuid}/cancel`` ``{"reason"}``: cancel (200, the booking);
- ``POST`` / ``DELETE …/bookings/{invitee_uuid}/no-show``: mark / clear a no-show (200, the booking).

An ``Idempotency-Key`` header makes a retry answer the first result. Nothing of the body is logged.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.actions.act import Actions
from calsync.actions.idempotency import check_key
from calsync.actions.requests import ActionRefused, Answer, BookRequest, CancelRequest, NoBody, parse_body
from calsync.config import ActionsApiSettings
from calsync.errors import DependencyUnavailable
from calsync.observability import logger

CONNECTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # connections.connect.CONNECTION_ID
ITEM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")  # Calendly's uuids
BOOKINGS = "/v1/connections/{connection_id}/bookings"
CANCEL = f"{BOOKINGS}/{{invitee_uuid}}/cancel"
NO_SHOW = f"{BOOKINGS}/{{invitee_uuid}}/no-show"


@cache
def services() -> Actions:
    return compose.actions(ActionsApiSettings.from_env())


def reply(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
    }


def _body(event: Mapping[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ActionRefused(400, "bad_request", "the body is not valid base64", parameter="body") from None
    return str(body).encode("utf-8", "surrogatepass")


def _header(event: Mapping[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def act(api: Actions, method: str, resource: str, params: Mapping[str, str], body: bytes, key: str | None) -> Answer:
    """The use case the route names (shared with the CLI's tests)."""
    connection_id = params["connection_id"]
    if (method, resource) == ("POST", BOOKINGS):
        return api.book(connection_id, parse_body(BookRequest, body), key)
    invitee_uuid = params["invitee_uuid"]
    if (method, resource) == ("POST", CANCEL):
        return api.cancel(connection_id, invitee_uuid, parse_body(CancelRequest, body), key)
    if resource == NO_SHOW and method in ("POST", "DELETE"):
        parse_body(NoBody, body)
        if method == "POST":
            return api.mark_no_show(connection_id, invitee_uuid, key)
        return api.clear_no_show(connection_id, invitee_uuid, key)
    raise ActionRefused(404, "not_found", "no such route")


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.clear_state()
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    resource, method = str(event.get("resource") or ""), str(event.get("httpMethod") or "")
    given = event.get("pathParameters") or {}
    params = {name: str(given.get(name) or "") for name in re.findall(r"{(\w+)}", resource)}
    connection_id = params.get("connection_id")
    if any(not (CONNECTION_ID if n == "connection_id" else ITEM_ID).fullmatch(v) for n, v in params.items()):
        return reply(404, {"error": "not_found", "message": "no such connection or booking"})
    try:
        api = services()
        key = check_key(_header(event, "Idempotency-Key"))
        answer = act(api, method, resource, params, _body(event), key)
        body = api.view(str(connection_id), answer.booking) if answer.booking is not None else answer.body
        logger.info(
            "action done",
            extra={
                "route": f"{method} {resource}",
                "connection_id": connection_id,
                "status": answer.status,
                "replayed": answer.replayed,
            },
        )
        return reply(answer.status, body, {"Idempotent-Replayed": "true"} if answer.replayed else None)
    except ActionRefused as exc:
        logger.warning(
            "action refused",
            extra={
                "route": f"{method} {resource}",
                "connection_id": connection_id,
                "status": exc.status,
                "error": exc.error,
                "parameter": exc.parameter,
            },
        )
        retry = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        return reply(exc.status, exc.as_json(), retry)
    except DependencyUnavailable as exc:
        logger.error("actions API: AWS unavailable", extra={"connection_id": connection_id, "detail": str(exc)})
        return reply(
            503, {"error": "unavailable", "message": "Temporarily unavailable; retry later."}, {"Retry-After": "5"}
        )
