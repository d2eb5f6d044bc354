"""The Scheduling API calls of ``CalendlyClient`` (what calsync.actions sends and reads), over a
mock transport. Shapes as Calendly documents them: Create Event Invitee (``POST /invitees``:
``event_type``, ``start_time``, ``invitee`` {``name``, ``email``, ``timezone``}, optional
``questions_and_answers``; 201 ``{"resource": Invitee}``, with fields such as
``scheduling_method`` beyond the ones calsync reads; developer.calendly.com, Scheduling API),
cancellation (``POST /scheduled_events/{uuid}/cancellation`` ``{"reason"}``), no-shows
(``POST /invitee_no_shows`` ``{"invitee"}`` → 201, ``DELETE /invitee_no_shows/{uuid}`` → 204)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from calsync.actions.requests import BookRequest
from calsync.calendly.client import CalendlyClient
from calsync.calendly.errors import CalendlyConflict, CalendlyError

EVENT = "https://api.calendly.com/scheduled_events/EV1"
INVITEE = f"{EVENT}/invitees/IN1"
CREATED = {
    "resource": {
        "uri": INVITEE,
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "first_name": None,
        "last_name": None,
        "status": "active",
        "timezone": "Europe/London",
        "event": EVENT,
        "created_at": "2026-12-01T09:00:00.000000Z",
        "updated_at": "2026-12-01T09:00:00.000000Z",
        "tracking": {"utm_campaign": None, "utm_source": None, "utm_medium": None},
        "rescheduled": False,
        "old_invitee": None,
        "new_invitee": None,
        "cancel_url": "https://calendly.com/cancellations/IN1",
        "reschedule_url": "https://calendly.com/reschedulings/IN1",
        "payment": None,
        "no_show": None,
        "reconfirmation": None,
        "scheduling_method": "instant_book",
        "invitee_scheduled_by": "https://api.calendly.com/users/U1",
    }
}


def client(answer: tuple[int, Any], seen: list[httpx.Request]) -> CalendlyClient:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status, body = answer
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status)

    return CalendlyClient(lambda: "tok", transport=httpx.MockTransport(handler), max_retries=0)


def test_create_invitee_posts_the_booking_and_reads_the_new_invitee() -> None:
    seen: list[httpx.Request] = []
    request = BookRequest.model_validate(
        {
            "event_type": "ET1",
            "start_time": "2026-12-03T15:00:00Z",
            "invitee": {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"},
            "answers": [{"question": "Topic?", "answer": "Engines"}],
        }
    )
    invitee = client((201, CREATED), seen).create_invitee(request.calendly_body())
    assert (invitee.uri, invitee.event, invitee.status) == (INVITEE, EVENT, "active")
    assert (seen[0].method, seen[0].url.path) == ("POST", "/invitees")
    sent = json.loads(seen[0].content)
    assert sent == {
        "event_type": "https://api.calendly.com/event_types/ET1",
        "start_time": "2026-12-03T15:00:00Z",
        "invitee": {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"},
        "questions_and_answers": [{"question": "Topic?", "answer": "Engines", "position": 0}],
    }


def test_a_taken_slot_is_a_conflict_and_a_422_a_calendly_error_with_its_status() -> None:
    with pytest.raises(CalendlyConflict):
        client((409, {"title": "Conflict", "message": "taken"}), []).create_invitee({})
    with pytest.raises(CalendlyError) as refused:
        client((422, {"title": "Unprocessable", "message": "inactive"}), []).create_invitee({})
    assert refused.value.status == 422


def test_cancel_and_no_show_calls() -> None:
    seen: list[httpx.Request] = []
    client((201, {"resource": {"canceled_by": "Host", "reason": "ill"}}), seen).cancel_scheduled_event(EVENT, "ill")
    assert (seen[-1].url.path, json.loads(seen[-1].content)) == (
        "/scheduled_events/EV1/cancellation",
        {"reason": "ill"},
    )
    mark = {"resource": {"uri": "https://api.calendly.com/invitee_no_shows/NS1", "invitee": INVITEE}}
    assert client((201, mark), seen).create_invitee_no_show(INVITEE).uri.endswith("/NS1")
    assert json.loads(seen[-1].content) == {"invitee": INVITEE}
    client((204, None), seen).delete_invitee_no_show("https://api.calendly.com/invitee_no_shows/NS1")
    assert (seen[-1].method, seen[-1].url.path) == ("DELETE", "/invitee_no_shows/NS1")
    client((200, CREATED), seen).get_invitee(EVENT, INVITEE)
    assert seen[-1].url.path == "/scheduled_events/EV1/invitees/IN1"
