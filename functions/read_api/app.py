"""Read API Lambda: the signed ``GET /v1/connections…`` routes (API Gateway REST, AWS_IAM).

A small router on the REST proxy's ``resource`` (the route template) and method; Powertools'
resolver would add ~30 ms to a cold start for six fixed routes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ReadApiSettings
from calsync.errors import DependencyUnavailable
from calsync.observability import logger
from calsync.read.bookings import BookingsQuery, NoQuery, QueryError, bookings_page, get_booking, parse_query
from calsync.read.connections import ConnectionsQuery, get_connection, list_connections
from calsync.read.events import get_event
from calsync.read.kinds import ContactsQuery, contacts_by_email, with_current_names
from calsync.read.reports import ReportsQuery, latest_reports

# The ids calsync registers (connections.connect.CONNECTION_ID): anything else cannot exist.
CONNECTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
# Calendly's uuids (letters and digits); anything else, up to the contract's 128, cannot exist.
ITEM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
BASE = "/v1/connections/{connection_id}"
Answer = tuple[int, dict[str, Any]]


class NotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@cache
def services() -> compose.ReadApi:
    return compose.read_api(ReadApiSettings.from_env())


def reply(status: int, body: Mapping[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)}


def _known(api: compose.ReadApi, connection_id: str) -> None:
    if not api.exists(connection_id):
        raise NotFound(f"no connection {connection_id!r}")


def _found[T](api: compose.ReadApi, connection_id: str, found: T | None, what: str) -> T:
    if found is None:
        _known(api, connection_id)  # which of the two is unknown: read only on a miss
        raise NotFound(f"no {what} under connection {connection_id!r}")
    return found


def _named(api: compose.ReadApi, connection_id: str, body: dict[str, Any], bookings: Any) -> dict[str, Any]:
    """``body``, its bookings carrying their event type's current name (one Query of the
    connection's event types, only when there are bookings)."""
    if api.kinds is not None and bookings:
        with_current_names(bookings, api.kinds.event_type_names(connection_id))
    return body


def _connections(api: compose.ReadApi, p: dict[str, str], q: Mapping[str, str]) -> dict[str, Any]:
    return list_connections(api.connections, ConnectionsQuery.parse(q), api.cursor_key())


def _connection(api: compose.ReadApi, p: dict[str, str], q: Mapping[str, str]) -> dict[str, Any]:
    parse_query(NoQuery, q)
    view = get_connection(api.connections, p["connection_id"])
    if view is None:
        raise NotFound(f"no connection {p['connection_id']!r}")
    return view.model_dump(mode="json")


def _bookings(api: compose.ReadApi, p: dict[str, str], q: Mapping[str, str]) -> dict[str, Any]:
    query = BookingsQuery.parse(q)
    _known(api, p["connection_id"])
    page = bookings_page(p["connection_id"], query, api.bookings, api.cursor_key())
    return _named(api, p["connection_id"], page, page["bookings"])


def _booking(api: compose.ReadApi, p: dict[str, str], q: Mapping[str, str]) -> dict[str, Any]:
    parse_query(NoQuery, q)
    view = get_booking(api.booking, p["connection_id"], p["invitee_uuid"])
    body = _found(api, p["connection_id"], view, f"booking {p['invitee_uuid']!r}").model_dump(mode="json")
    return _named(api, p["connection_id"], body, [body])


def _event(api: compose.ReadApi, p: dict[str, str], q: Mapping[str, str]) -> dict[str, Any]:
    parse_query(NoQuery, q)
    view = get_event(api.events, p["connection_id"], p["event_uuid"], api.kinds)
    body = _found(api, p["connection_id"], view, f"event {p['event_uuid']!r}").model_dump(mode="json")
    return _named(api, p["connection_id"], body, body["invitees"])


def _contacts(api: compose.ReadApi, p: dict[str, str], q: Mapping[str, str]) -> dict[str, Any]:
    query = ContactsQuery.parse(q)
    _known(api, p["connection_id"])
    if api.kinds is None:
        raise NotFound("contacts are not kept here")
    return contacts_by_email(api.kinds, p["connection_id"], query)


def _reports(api: compose.ReadApi, p: dict[str, str], q: Mapping[str, str]) -> dict[str, Any]:
    query = ReportsQuery.parse(q)
    _known(api, p["connection_id"])
    return latest_reports(api.reports, p["connection_id"], query.limit)


Route = Callable[[compose.ReadApi, dict[str, str], Mapping[str, str]], dict[str, Any]]
ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/v1/connections"): _connections,
    ("GET", BASE): _connection,
    ("GET", f"{BASE}/bookings"): _bookings,
    ("GET", f"{BASE}/bookings/{{invitee_uuid}}"): _booking,
    ("GET", f"{BASE}/events/{{event_uuid}}"): _event,
    ("GET", f"{BASE}/reports"): _reports,
    ("GET", f"{BASE}/contacts"): _contacts,
}


def _path(event: Mapping[str, Any], resource: str) -> dict[str, str] | None:
    """The ids the route names, or ``None`` when one is missing or cannot exist (a 404 without
    a read)."""
    given = event.get("pathParameters") or {}
    found = {name: str(given.get(name) or "") for name in re.findall(r"{(\w+)}", resource)}
    for name, value in found.items():
        if not (CONNECTION_ID if name == "connection_id" else ITEM_ID).fullmatch(value):
            return None
    return found


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.clear_state()
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    resource = str(event.get("resource") or "")
    route = ROUTES.get((str(event.get("httpMethod") or ""), resource))
    path = _path(event, resource)
    connection_id = (path or {}).get("connection_id")
    if route is None or path is None:
        return reply(404, {"error": "not_found", "message": "no such resource"})
    try:
        body = route(services(), path, event.get("queryStringParameters") or {})
    except QueryError as exc:
        logger.warning(
            "read refused", extra={"route": resource, "connection_id": connection_id, "parameter": exc.parameter}
        )
        return reply(400, exc.as_json())
    except NotFound as exc:
        return reply(404, {"error": "not_found", "message": exc.message})
    except DependencyUnavailable as exc:
        logger.error(
            "read: AWS unavailable", extra={"route": resource, "connection_id": connection_id, "detail": str(exc)}
        )
        return reply(503, {"error": "unavailable", "message": "Temporarily unavailable; retry later."})
    logger.info("read", extra={"route": resource, "connection_id": connection_id})
    return reply(200, body)
