"""The actions API's handler (functions/actions_api/app.py) over in-memory fakes, each answer
checked against openapi/calsync-v1.yaml: 201/200 with the booking, bad input a 400 naming the
parameter, Calendly's refusals 4xx, Calendly down a 503 with Retry-After, a replay marked as such."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

from calsync.calendly.errors import CalendlyConflict, CalendlyRateLimited, CalendlyUnavailable
from calsync.errors import DependencyUnavailable
from tests.functions import load_app
from tests.openapi_contract import check
from tests.unit.actions.test_actions import BOOK, World

BOOKINGS = "/v1/connections/{connection_id}/bookings"
CANCEL = f"{BOOKINGS}/{{invitee_uuid}}/cancel"
NO_SHOW = f"{BOOKINGS}/{{invitee_uuid}}/no-show"


def _load() -> ModuleType:
    return load_app("actions_api", "calsync_fn_actions_api_unit")


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def call(monkeypatch: pytest.MonkeyPatch, world: World) -> Callable[..., dict[str, Any]]:
    app = _load()
    monkeypatch.setattr(app, "services", lambda: world.actions)

    def invoke(method: str, resource: str, body: Any = None, key: str | None = None, **path: str) -> dict[str, Any]:
        event = {
            "resource": resource,
            "httpMethod": method,
            "pathParameters": {"connection_id": "acme", **path},
            "headers": {"Idempotency-Key": key} if key else {},
            "body": body if isinstance(body, str) or body is None else json.dumps(body),
            "requestContext": {"requestId": "r-1"},
        }
        response: dict[str, Any] = app.lambda_handler(event, None)
        check(method, resource, response)
        return response

    return invoke


def test_a_booking_answers_201_with_the_booking_as_stored(call: Callable[..., dict[str, Any]]) -> None:
    response = call("POST", BOOKINGS, BOOK)
    assert response["statusCode"] == 201
    booking = json.loads(response["body"])
    assert booking["status"] == "active"
    assert booking["email"] == "ada@example.com"


def test_bad_input_is_a_400_naming_it(call: Callable[..., dict[str, Any]], world: World) -> None:
    response = call("POST", BOOKINGS, {**BOOK, "start_time": "tomorrow"})
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["parameter"] == "start_time"
    bad_key = call("POST", BOOKINGS, BOOK, key="has space")
    assert json.loads(bad_key["body"])["parameter"] == "Idempotency-Key"
    assert world.calendly.calls == []


def test_a_taken_slot_is_a_409(call: Callable[..., dict[str, Any]], world: World) -> None:
    world.calendly.fail["create_invitee"] = CalendlyConflict(409, "Conflict", "The slot is taken")
    response = call("POST", BOOKINGS, BOOK)
    assert response["statusCode"] == 409
    assert json.loads(response["body"])["error"] == "slot_unavailable"


def test_calendly_down_is_a_503_and_rate_limited_a_429_both_with_retry_after(
    call: Callable[..., dict[str, Any]], world: World
) -> None:
    world.calendly.fail["create_invitee"] = CalendlyUnavailable(None, "Network error", "ConnectError")
    down = call("POST", BOOKINGS, BOOK)
    assert down["statusCode"] == 503
    assert down["headers"]["Retry-After"] == "30"
    world.calendly.fail["create_invitee"] = CalendlyRateLimited(429, "Too Many", "wait", retry_after=7)
    limited = call("POST", BOOKINGS, BOOK)
    assert limited["statusCode"] == 429
    assert limited["headers"]["Retry-After"] == "7"


def test_aws_down_is_a_503(call: Callable[..., dict[str, Any]], world: World) -> None:
    def unavailable(operation: str) -> None:
        raise DependencyUnavailable("dynamodb down")

    world.repo.table.check = unavailable  # type: ignore[method-assign]
    assert call("POST", BOOKINGS, BOOK)["statusCode"] == 503


def test_a_replay_is_marked_and_answers_the_first_result(call: Callable[..., dict[str, Any]], world: World) -> None:
    first = call("POST", BOOKINGS, BOOK, key="abc")
    again = call("POST", BOOKINGS, BOOK, key="abc")
    assert again["statusCode"] == 201
    assert again["headers"]["Idempotent-Replayed"] == "true"
    assert json.loads(again["body"]) == json.loads(first["body"])
    other = call("POST", BOOKINGS, {**BOOK, "event_type": "ET2"}, key="abc")
    assert other["statusCode"] == 422
    assert world.calendly.calls.count("create_invitee") == 1


def test_cancel_and_no_show_answer_the_booking(call: Callable[..., dict[str, Any]]) -> None:
    invitee = json.loads(call("POST", BOOKINGS, BOOK)["body"])["invitee_uuid"]
    marked = call("POST", NO_SHOW, invitee_uuid=invitee)
    assert json.loads(marked["body"])["no_show"] is not None
    cleared = call("DELETE", NO_SHOW, invitee_uuid=invitee)
    assert json.loads(cleared["body"])["no_show"] is None
    canceled = call("POST", CANCEL, {"reason": "double-booked"}, invitee_uuid=invitee)
    assert canceled["statusCode"] == 200
    assert json.loads(canceled["body"])["status"] == "canceled"
    again = call("POST", CANCEL, None, invitee_uuid=invitee)
    assert again["statusCode"] == 409


def test_an_unknown_booking_or_a_bad_id_is_a_404(call: Callable[..., dict[str, Any]]) -> None:
    assert call("POST", NO_SHOW, invitee_uuid="NOPE")["statusCode"] == 404
    assert call("POST", NO_SHOW, invitee_uuid="no/pe")["statusCode"] == 404
    assert call("POST", NO_SHOW, {"extra": 1}, invitee_uuid="NOPE")["statusCode"] == 400
