"""The read API's handler (functions/read_api/app.py) over in-memory fakes: a page and its
cursor, each bad input a 4xx naming the parameter, an unknown connection a 404, AWS down a 503."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest

from calsync import timefmt
from calsync.errors import DependencyUnavailable
from tests.fakes.read import FakeTenantBookings, read_api
from tests.functions import load_app

KEY = b"k" * 48
BASE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _load() -> ModuleType:
    return load_app("read_api", "calsync_fn_read_api_unit")


def _booking(n: int, email: str = "ada@example.com") -> dict[str, Any]:
    start = BASE + timedelta(hours=n)
    return {
        "event_uuid": f"EV{n:04d}",
        "invitee_uuid": f"IN{n:04d}",
        "status": "active",
        "email": email,
        "start_time": timefmt.iso_z(start),
        "end_time": timefmt.iso_z(start + timedelta(minutes=30)),
        "v": "2026-11-30T10:00:00.000000Z#1",
    }


def _unavailable() -> bytes:
    raise DependencyUnavailable("secretsmanager:GetSecretValue (cursor key): throttled")


@pytest.fixture
def call(monkeypatch: pytest.MonkeyPatch) -> Callable[..., dict[str, Any]]:
    port = FakeTenantBookings()
    for n in (3, 1, 4, 0, 2):
        port.add("acme", _booking(n))
    port.add("acme", _booking(9, email="zoë@bücher.example"))
    app = _load()
    api = read_api(port, exists=lambda cid: cid in {"acme", "quiet"}, cursor_key=lambda: KEY)
    monkeypatch.setattr(app, "services", lambda: api)

    def invoke(connection_id: str = "acme", key: Callable[[], bytes] | None = None, **query: str) -> dict[str, Any]:
        if key is not None:
            monkeypatch.setattr(app, "services", lambda: dataclasses.replace(api, cursor_key=key))
        event = {
            "resource": "/v1/connections/{connection_id}/bookings",
            "httpMethod": "GET",
            "pathParameters": {"connection_id": connection_id},
            "queryStringParameters": query or None,
            "requestContext": {"requestId": "req-1"},
        }
        response: dict[str, Any] = app.lambda_handler(event, None)
        response["json"] = json.loads(response["body"])
        return response

    return invoke


def test_a_page_and_its_cursor_walk_the_bookings_in_start_order(call: Callable[..., dict[str, Any]]) -> None:
    # Given six bookings of acme; When they are read two at a time, following next_cursor
    first = call(limit="2")
    assert first["statusCode"] == 200
    assert first["headers"]["Content-Type"] == "application/json"
    seen = [b["invitee_uuid"] for b in first["json"]["bookings"]]
    cursor = first["json"]["next_cursor"]
    while cursor is not None:
        page = call(limit="2", cursor=cursor)
        assert page["statusCode"] == 200
        seen += [b["invitee_uuid"] for b in page["json"]["bookings"]]
        cursor = page["json"]["next_cursor"]
    # Then every booking comes once, by start time
    assert seen == ["IN0000", "IN0001", "IN0002", "IN0003", "IN0004", "IN0009"]


def test_a_tampered_cursor_is_a_400_naming_cursor(call: Callable[..., dict[str, Any]]) -> None:
    cursor = call(limit="2")["json"]["next_cursor"]
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    response = call(limit="2", cursor=tampered)
    assert response["statusCode"] == 400
    assert response["json"]["error"] == "bad_request"
    assert response["json"]["parameter"] == "cursor"


def test_a_cursor_of_another_connection_is_a_400_naming_cursor(call: Callable[..., dict[str, Any]]) -> None:
    cursor = call(limit="2")["json"]["next_cursor"]
    response = call("quiet", limit="2", cursor=cursor)
    assert (response["statusCode"], response["json"]["parameter"]) == (400, "cursor")


@pytest.mark.parametrize("limit", ["101", "0", "abc", "1.5", "9" * 40])
def test_a_limit_outside_1_to_100_is_a_400_naming_limit(call: Callable[..., dict[str, Any]], limit: str) -> None:
    response = call(limit=limit)
    assert (response["statusCode"], response["json"]["parameter"]) == (400, "limit")


def test_an_unknown_parameter_is_a_400_naming_it(call: Callable[..., dict[str, Any]]) -> None:
    response = call(sort="desc")
    assert (response["statusCode"], response["json"]["parameter"]) == (400, "sort")


@pytest.mark.parametrize("connection_id", ["nobody", "a" * 300, "../acme", "ac me", ""])
def test_an_unknown_connection_is_a_404(call: Callable[..., dict[str, Any]], connection_id: str) -> None:
    response = call(connection_id)
    assert response["statusCode"] == 404
    assert response["json"]["error"] == "not_found"


@pytest.mark.parametrize(
    "email", ["zoë@bücher.example", "a\u200b@example.com", "a\x00@example.com", "\ud800@x.y", "@@", "𝔞@𝔟.𝔠", " "]
)
def test_odd_unicode_in_email_is_a_4xx_or_a_page_never_a_5xx(call: Callable[..., dict[str, Any]], email: str) -> None:
    response = call(email=email)
    assert response["statusCode"] in {200, 400}
    if response["statusCode"] == 400:
        assert response["json"]["parameter"] == "email"


def test_a_unicode_email_finds_its_booking(call: Callable[..., dict[str, Any]]) -> None:
    response = call(email="ZOË@bücher.example")
    assert [b["invitee_uuid"] for b in response["json"]["bookings"]] == ["IN0009"]


def test_aws_unavailable_is_a_503(call: Callable[..., dict[str, Any]]) -> None:
    response = call(key=_unavailable)
    assert response["statusCode"] == 503
    assert response["json"]["error"] == "unavailable"
