"""The read API's handler routes every signed GET of /v1 (functions/read_api/app.py) over
in-memory fakes: each route's answer, another tenant's ids a 404, a removed connection still
readable, bad input of any kind a 400 or 404 naming it, AWS down a 503, never a 5xx otherwise."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest

from calsync.connections.records import Connection
from calsync.errors import DependencyUnavailable
from tests.fakes.read import FakeConnectionsReader, FakeReports, FakeTenantBookings, FakeTenantItems, read_api
from tests.functions import load_app
from tests.openapi_contract import check

KEY = b"k" * 48
BASE = "/v1/connections/{connection_id}"
EVENT = {
    "event_uuid": "EV1",
    "name": "Demo",
    "event_type": "T",
    "status": "active",
    "start_time": "2026-12-03T10:00:00Z",
}
ROUTES = {
    "connections": "/v1/connections",
    "connection": BASE,
    "bookings": f"{BASE}/bookings",
    "booking": f"{BASE}/bookings/{{invitee_uuid}}",
    "event": f"{BASE}/events/{{event_uuid}}",
    "reports": f"{BASE}/reports",
}


def _load() -> ModuleType:
    return load_app("read_api", "calsync_fn_read_api_routes")


def _connection(connection_id: str, **changes: Any) -> Connection:
    base = Connection(
        connection_id=connection_id,
        kind="pat",
        status="active",
        organization="https://api.calendly.com/organizations/ORG1",
        owner="https://api.calendly.com/users/U1",
        callback_url="https://hooks.example.com/webhooks/x",
        token_secret=f"calsync/prod/tokens/{connection_id}",
        signing_key_secret=f"calsync/prod/signing-keys/{connection_id}",
    )
    return replace(base, **changes)


Call = Callable[..., dict[str, Any]]


@pytest.fixture
def app() -> ModuleType:
    return _load()


@pytest.fixture
def call(monkeypatch: pytest.MonkeyPatch, app: ModuleType) -> Call:
    connections = FakeConnectionsReader()
    for cid in ("acme", "beta", "gone", "zeta"):
        connections.add(_connection(cid, status="removed" if cid == "gone" else "active"))
    items = FakeTenantItems()
    items.add("acme", EVENT, {"invitee_uuid": "IN1", "status": "active", "email": "ada@example.com"})
    items.add("gone", {**EVENT, "event_uuid": "EV7"}, {"invitee_uuid": "IN7", "status": "canceled"})
    items.add("beta", {**EVENT, "event_uuid": "EV9"}, {"invitee_uuid": "IN9", "status": "active"})
    reports = FakeReports()
    reports.add("acme", {"started_at": "2026-12-01T08:00:00.000000Z", "reason": "scheduled", "complete": True})
    api = read_api(
        FakeTenantBookings(),
        exists=lambda cid: cid in connections.connections,
        cursor_key=lambda: KEY,
        connections=connections,
        items=items,
        reports=reports,
    )
    monkeypatch.setattr(app, "services", lambda: api)

    def invoke(route: str, method: str = "GET", **params: str) -> dict[str, Any]:
        path = {k: params.pop(k) for k in ("connection_id", "invitee_uuid", "event_uuid") if k in params}
        event = {
            "resource": ROUTES.get(route, route),
            "httpMethod": method,
            "pathParameters": path or None,
            "queryStringParameters": params or None,
            "requestContext": {"requestId": "req-1"},
        }
        response: dict[str, Any] = app.lambda_handler(event, None)
        assert response["headers"]["Content-Type"] == "application/json"
        response["json"] = json.loads(response["body"])
        if route in ROUTES and method == "GET":  # every answer of a known route is in the contract
            check("GET", ROUTES[route], response)
        return response

    return invoke


def test_the_connections_list_pages_by_id_with_a_signed_cursor(call: Call) -> None:
    # Given four connections / When they are read three at a time
    first = call("connections", limit="3")
    second = call("connections", limit="3", cursor=first["json"]["next_cursor"])
    # Then each comes once, by id, and the last page says so
    ids = [c["connection_id"] for c in first["json"]["connections"] + second["json"]["connections"]]
    assert ids == ["acme", "beta", "gone", "zeta"]
    assert second["json"]["next_cursor"] is None
    # And a tampered cursor is a 400 naming it
    tampered = call("connections", cursor=first["json"]["next_cursor"][:-2] + "AA")
    assert (tampered["statusCode"], tampered["json"]["parameter"]) == (400, "cursor")


def test_a_connection_is_read_whole_and_an_unknown_one_is_a_404(call: Call) -> None:
    found = call("connection", connection_id="acme")
    assert found["statusCode"] == 200
    assert found["json"]["connection_id"] == "acme"
    assert not {"token_secret", "signing_key_secret"} & set(found["json"])
    assert call("connection", connection_id="nobody")["statusCode"] == 404


def test_a_removed_connection_still_answers_reads(call: Call) -> None:
    # Given "gone" was disconnected (its record removed, its data kept)
    assert call("connection", connection_id="gone")["json"]["status"] == "removed"
    assert call("booking", connection_id="gone", invitee_uuid="IN7")["statusCode"] == 200
    assert call("event", connection_id="gone", event_uuid="EV7")["statusCode"] == 200
    assert call("reports", connection_id="gone")["json"] == {"reports": []}


def test_a_booking_and_an_event_are_read_by_their_uuid(call: Call) -> None:
    booking = call("booking", connection_id="acme", invitee_uuid="IN1")
    assert (booking["statusCode"], booking["json"]["event_uuid"]) == (200, "EV1")
    event = call("event", connection_id="acme", event_uuid="EV1")
    assert (event["statusCode"], [i["invitee_uuid"] for i in event["json"]["invitees"]]) == (200, ["IN1"])


def test_another_tenants_booking_or_event_is_a_404_under_this_connection(call: Call) -> None:
    # Given IN9/EV9 belong to beta / When acme asks for them / Then 404, as for an unknown id
    for response in (
        call("booking", connection_id="acme", invitee_uuid="IN9"),
        call("event", connection_id="acme", event_uuid="EV9"),
        call("booking", connection_id="nobody", invitee_uuid="IN9"),
    ):
        assert (response["statusCode"], response["json"]["error"]) == (404, "not_found")


def test_reports_are_newest_first_and_an_unknown_connection_is_a_404(call: Call) -> None:
    found = call("reports", connection_id="acme", limit="5")
    assert found["statusCode"] == 200
    assert [r["reason"] for r in found["json"]["reports"]] == ["scheduled"]
    assert call("reports", connection_id="nobody")["statusCode"] == 404


@pytest.mark.parametrize("uuid", ["", "a" * 129, "../IN1", "IN 1", "IN1\x00", "ïn1", "\ud800", "IN1#x", "-IN1"])
@pytest.mark.parametrize("route", ["booking", "event"])
def test_an_id_of_a_shape_that_cannot_exist_is_a_404_without_a_read(call: Call, route: str, uuid: str) -> None:
    name = "invitee_uuid" if route == "booking" else "event_uuid"
    response = call(route, connection_id="acme", **{name: uuid})
    assert (response["statusCode"], response["json"]["error"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("route", "params", "parameter"),
    [
        ("connections", {"limit": "101"}, "limit"),
        ("connections", {"limit": "9" * 40}, "limit"),
        ("connections", {"cursor": "x" * 3000}, "cursor"),
        ("connections", {"cursor": "ünï.cödé"}, "cursor"),
        ("reports", {"connection_id": "acme", "limit": "0"}, "limit"),
        ("reports", {"connection_id": "acme", "cursor": "abc"}, "cursor"),
        ("connection", {"connection_id": "acme", "limit": "5"}, "limit"),
        ("booking", {"connection_id": "acme", "invitee_uuid": "IN1", "email": "a@b.c"}, "email"),
        ("event", {"connection_id": "acme", "event_uuid": "EV1", "x\u200b": "1"}, "x\u200b"),
    ],
)
def test_bad_query_input_is_a_400_naming_the_parameter(
    call: Call, route: str, params: dict[str, str], parameter: str
) -> None:
    response = call(route, **params)
    assert response["statusCode"] == 400
    assert (response["json"]["error"], response["json"]["parameter"]) == ("bad_request", parameter)


def test_a_cursor_from_another_route_or_connection_is_a_400(call: Call, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a connections cursor / When it is passed to acme's bookings / Then 400 on cursor
    cursor = call("connections", limit="1")["json"]["next_cursor"]
    response = call("bookings", connection_id="acme", cursor=cursor)
    assert (response["statusCode"], response["json"]["parameter"]) == (400, "cursor")


@pytest.mark.parametrize(("route", "method"), [("/v1/elsewhere", "GET"), ("connections", "PUT"), ("", "")])
def test_an_unknown_route_is_a_404(call: Call, route: str, method: str) -> None:
    assert call(route, method)["statusCode"] == 404


@pytest.mark.parametrize(("route", "params"), [("booking", {"connection_id": "acme"}), ("event", {}), ("reports", {})])
def test_a_route_missing_an_id_of_its_path_is_a_404(call: Call, route: str, params: dict[str, str]) -> None:
    assert call(route, **params)["statusCode"] == 404


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("connections", {}),
        ("connection", {"connection_id": "acme"}),
        ("booking", {"connection_id": "acme", "invitee_uuid": "NOPE"}),
        ("event", {"connection_id": "acme", "event_uuid": "NOPE"}),
        ("reports", {"connection_id": "acme"}),
    ],
)
def test_aws_unavailable_is_a_503(
    call: Call, app: ModuleType, monkeypatch: pytest.MonkeyPatch, route: str, params: dict[str, str]
) -> None:
    def down(*args: Any, **kwargs: Any) -> Any:
        raise DependencyUnavailable("dynamodb:Query: throttled")

    api = app.services()
    for port in (api.connections, api.booking, api.reports):
        for name in ("page", "get", "booking", "event", "reports"):
            if hasattr(port, name):
                monkeypatch.setattr(port, name, down)
    monkeypatch.setattr(app, "services", lambda: replace(api, exists=down))
    response = call(route, **params)
    assert (response["statusCode"], response["json"]["error"]) == (503, "unavailable")
