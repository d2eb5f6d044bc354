"""The fake Calendly's Scheduling API (``calsync_dev.fake_calendly`` routes here): book
(``POST /invitees``), read one scheduled event or invitee, cancel an event
(``POST /scheduled_events/{uuid}/cancellation``), mark and clear a no-show
(``POST /invitee_no_shows``, ``DELETE /invitee_no_shows/{uuid}``), as Calendly documents them.

A booked slot is taken: a second booking of the same event type at the same start is refused 409.
Bookings made here are listed by ``GET /scheduled_events`` like any other (the reconciler sees them).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from calsync_dev.fake_calendly import FakeCalendly

Answer = tuple[int, Any]
DURATION = timedelta(minutes=30)


def _invalid(parameter: str, message: str) -> Answer:
    return 400, {
        "title": "Invalid Argument",
        "message": message,
        "details": [{"parameter": parameter, "message": message}],
    }


def _now(fake: FakeCalendly) -> str:
    """Calendly's spelling, to the microsecond as Calendly's own times are: a mark, a clear and a
    mark again within one second stay in order (each one's version is its time)."""
    return datetime.fromtimestamp(fake.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _not_found() -> Answer:
    return 404, {"title": "Resource Not Found", "message": "The server could not find the resource"}


def _json(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw or b"{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def handle(fake: FakeCalendly, method: str, path: str, raw: bytes) -> Answer | None:
    """The answer for a Scheduling API call, or ``None`` when ``path`` is none of them."""
    parts = path.strip("/").split("/")
    if parts[0] not in ("invitees", "invitee_no_shows", "scheduled_events"):
        return None
    body = _json(raw)
    if path == "/invitees" and method == "POST":
        return _book(fake, body)
    if path == "/invitee_no_shows" and method == "POST":
        return _mark(fake, body)
    if parts[0] == "invitee_no_shows" and len(parts) == 2 and method == "DELETE":
        return _clear(fake, f"{fake.api_base}{path}")
    if parts[0] != "scheduled_events" or len(parts) < 2:
        return None
    event_uri = f"{fake.api_base}/scheduled_events/{parts[1]}"
    if len(parts) == 2 and method == "GET":
        return (200, {"resource": fake.events[event_uri]}) if event_uri in fake.events else _not_found()
    if len(parts) == 4 and parts[2] == "invitees" and method == "GET":
        found = fake.invitees.get(event_uri, {}).get(f"{event_uri}/invitees/{parts[3]}")
        return (200, {"resource": found}) if found is not None else _not_found()
    if len(parts) == 3 and parts[2] == "cancellation" and method == "POST":
        return _cancel(fake, event_uri, body)
    return None


def _book(fake: FakeCalendly, body: dict[str, Any]) -> Answer:
    event_type, start, invitee = body.get("event_type"), body.get("start_time"), body.get("invitee")
    if not isinstance(event_type, str) or "/event_types/" not in event_type:
        return _invalid("event_type", "event_type must be an event type URI")
    try:
        at = datetime.fromisoformat(str(start))
    except ValueError:
        return _invalid("start_time", "start_time must be an ISO 8601 time")
    if not isinstance(invitee, dict) or not all(isinstance(invitee.get(k), str) for k in ("name", "email", "timezone")):
        return _invalid("invitee", "invitee needs name, email and timezone")
    for event in fake.events.values():
        if event.get("event_type") == event_type and event.get("start_time") == start and event["status"] == "active":
            return 409, {"title": "Conflict", "message": "The selected time is no longer available."}
    now, ids = _now(fake), uuid.uuid4().hex.upper()
    event_uri = f"{fake.api_base}/scheduled_events/EV{ids[:14]}"
    fake.events[event_uri] = {
        "uri": event_uri,
        "name": "Booked through calsync",
        "status": "active",
        "start_time": start,
        "end_time": (at + DURATION).isoformat().replace("+00:00", "Z"),
        "event_type": event_type,
        "location": {"type": "zoom", "location": None},
        "invitees_counter": {"total": 1, "active": 1, "limit": 1},
        "created_at": now,
        "updated_at": now,
        "event_memberships": [{"user": fake.user, "user_email": "owner@example.com", "user_name": "Local Owner"}],
        "event_guests": [],
    }
    invitee_uri = f"{event_uri}/invitees/IN{ids[14:28]}"
    fake.invitees.setdefault(event_uri, {})[invitee_uri] = {
        "uri": invitee_uri,
        "event": event_uri,
        "status": "active",
        "name": invitee["name"],
        "email": invitee["email"],
        "timezone": invitee["timezone"],
        "questions_and_answers": body.get("questions_and_answers") or [],
        "rescheduled": False,
        "old_invitee": None,
        "new_invitee": None,
        "cancellation": None,
        "no_show": None,
        "tracking": {"utm_source": None, "utm_medium": None, "utm_campaign": None},
        "payment": None,
        "created_at": now,
        "updated_at": now,
    }
    return 201, {"resource": fake.invitees[event_uri][invitee_uri]}


def _cancel(fake: FakeCalendly, event_uri: str, body: dict[str, Any]) -> Answer:
    event = fake.events.get(event_uri)
    if event is None:
        return _not_found()
    if event["status"] == "canceled":
        return 403, {"title": "Permission Denied", "message": "Event is already canceled"}
    now = _now(fake)
    cancellation = {
        "canceled_by": "Local Owner",
        "reason": body.get("reason"),
        "canceler_type": "host",
        "created_at": now,
    }
    event.update(status="canceled", updated_at=now, cancellation=cancellation)
    for invitee in fake.invitees.get(event_uri, {}).values():
        invitee.update(status="canceled", updated_at=now, cancellation=cancellation)
    return 201, {"resource": cancellation}


def _find_invitee(fake: FakeCalendly, invitee_uri: str) -> dict[str, Any] | None:
    return next((by_uri[invitee_uri] for by_uri in fake.invitees.values() if invitee_uri in by_uri), None)


def _mark(fake: FakeCalendly, body: dict[str, Any]) -> Answer:
    invitee = _find_invitee(fake, str(body.get("invitee")))
    if invitee is None:
        return _invalid("invitee", "invitee must be an invitee URI")
    mark = {"uri": f"{fake.api_base}/invitee_no_shows/{uuid.uuid4()}", "created_at": _now(fake)}
    invitee["no_show"] = mark
    return 201, {"resource": {**mark, "invitee": invitee["uri"]}}


def _clear(fake: FakeCalendly, mark_uri: str) -> Answer:
    for by_uri in fake.invitees.values():
        for invitee in by_uri.values():
            if (invitee.get("no_show") or {}).get("uri") == mark_uri:
                invitee["no_show"] = None
                return 204, None
    return _not_found()
