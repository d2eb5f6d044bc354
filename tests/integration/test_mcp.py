"""``calsync mcp`` as an assistant's MCP client runs it: spawned over stdio and driven with the MCP
SDK's own client, against an in-test /v1 API (tests/integration/fake_v1_api.py) that checks every
request's SigV4 signature and answers only what openapi/calsync-v1.yaml allows.

Given the local stack's API (its port from the environment, as ``calsync local`` reads it)
When an assistant lists the tools and calls them
Then each tool is one signed GET on its /v1 route and returns the API's JSON; a refusal or an
unreachable API is a tool error with the API's own words, and the server keeps answering.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from jsonschema import ValidationError
from mcp import ClientSession
from mcp.types import CallToolResult, TextContent

from tests.integration.fake_v1_api import FakeV1Api, check_answer, signature_problem
from tests.mcp_client import run_mcp

TOOLS = {"list_connections", "search_bookings", "get_booking", "get_event", "completeness_report"}


def booking(invitee_uuid: str = "INV-1", **changes: Any) -> dict[str, Any]:
    return {
        "invitee_uuid": invitee_uuid,
        "event_uuid": "EVT-1",
        "status": "active",
        "start_time": "2026-03-02T15:00:00.000000Z",
        "end_time": "2026-03-02T15:30:00.000000Z",
        "event_name": "Demo",
        "event_type": "https://api.calendly.com/event_types/ET-1",
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "no_show": None,
        "cancellation": None,
        "rescheduled_from": None,
        "rescheduled_to": None,
        "tracking": {"utm_source": "newsletter"},
        "version": "2026-03-01T10:00:00.000000Z",
        **changes,
    }


CONNECTION = {
    "connection_id": "acme",
    "kind": "oauth",
    "status": "active",
    "status_reason": None,
    "organization": "https://api.calendly.com/organizations/ORG-1",
    "created_at": "2026-01-05T09:00:00Z",
    "token_expires_at": "2026-03-02T17:00:00Z",
    "subscription": {"state": "healthy", "retry_started_at": None, "last_checked_at": "2026-03-02T14:00:00Z"},
    "latest_report": None,
}
REPORT = {
    "started_at": "2026-03-02T03:00:00Z",
    "reason": "scheduled",
    "complete": True,
    "stopped": None,
    "api_calls": 4,
    "counts": {"events_seen": 12, "invitees_seen": 14, "missing": 0, "repaired": 0},
    "duration_seconds": 1.5,
    "windows": [
        {"name": "past", "start": "2026-02-23T03:00:00Z", "end": "2026-03-02T03:00:00Z", "coverage": "covered"}
    ],
}


@pytest.fixture
def api() -> Iterator[FakeV1Api]:
    fake = FakeV1Api().start()
    yield fake
    fake.stop()
    assert fake.problems == [], "calsync mcp sent requests the contract does not declare"


def run_server(
    port: int,
    work: Callable[[ClientSession], Awaitable[Any]],
    *,
    extra_env: dict[str, str] | None = None,
    options: tuple[str, ...] = (),
) -> Any:
    """Start ``calsync mcp`` (the local stack's API on ``port``) and run ``work`` with a session to it."""
    env = {"CALSYNC_HOST": "127.0.0.1", "CALSYNC_API_PORT": str(port), **(extra_env or {})}
    return run_mcp(env, work, options)


def text(result: CallToolResult) -> str:
    return "".join(block.text for block in result.content if isinstance(block, TextContent))


def call(port: int, name: str, arguments: dict[str, Any]) -> CallToolResult:
    async def work(session: ClientSession) -> CallToolResult:
        return await session.call_tool(name, arguments)

    result: CallToolResult = run_server(port, work)
    return result


def test_the_tools_are_the_five_read_only_ones_with_schemas_an_assistant_can_follow(api: FakeV1Api) -> None:
    # When an assistant lists the tools
    async def work(session: ClientSession) -> Any:
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in run_server(api.port, work)}
    # Then it sees exactly the five read tools, each described and marked read-only
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description
        assert len(tool.description) > 80
        assert tool.annotations is not None
        assert tool.annotations.read_only_hint is True
        assert tool.annotations.destructive_hint is False
    # And search_bookings takes the connection, the email, the time window, the status and a page
    search = tools["search_bookings"].input_schema
    assert search["required"] == ["connection_id"]
    assert set(search["properties"]) == {
        "connection_id",
        "email",
        "start_after",
        "start_before",
        "status",
        "limit",
        "cursor",
    }
    assert "ISO 8601" in search["properties"]["start_after"]["description"]
    assert {"enum": ["active", "canceled"], "type": "string"} in search["properties"]["status"]["anyOf"]
    assert search["properties"]["limit"]["maximum"] == 100
    assert set(tools["get_booking"].input_schema["required"]) == {"connection_id", "invitee_uuid"}
    assert set(tools["get_event"].input_schema["required"]) == {"connection_id", "event_uuid"}
    assert tools["completeness_report"].input_schema["required"] == ["connection_id"]
    # And nothing was asked of the API just to list them
    assert api.seen == []


def test_with_allow_actions_the_action_tools_are_listed_too_and_marked_as_acting(api: FakeV1Api) -> None:
    # Given calsync mcp started with --allow-actions
    async def work(session: ClientSession) -> Any:
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in run_server(api.port, work, options=("--allow-actions",))}
    # Then the five read tools and the four action tools are listed
    assert set(tools) == TOOLS | {"book", "cancel_booking", "mark_no_show", "clear_no_show"}
    for name in ("book", "cancel_booking", "mark_no_show", "clear_no_show"):
        annotations = tools[name].annotations
        assert annotations is not None
        assert annotations.read_only_hint is False
        assert annotations.destructive_hint is True
        assert "idempotency_key" in tools[name].input_schema["properties"]
    assert set(tools["book"].input_schema["required"]) == {
        "connection_id",
        "event_type",
        "start_time",
        "name",
        "email",
        "timezone",
    }
    assert api.seen == []


def test_search_bookings_is_one_signed_get_of_the_connections_bookings(api: FakeV1Api) -> None:
    # Given the API holds a page of acme's bookings
    page = {
        "bookings": [booking("INV-1"), booking("INV-2", no_show={"created_at": "2026-03-02T15:40:00Z"})],
        "next_cursor": "c2",
    }
    api.answer("/v1/connections/acme/bookings", page)
    # When the assistant searches by email (with a plus), a window, a status and a page
    window = {"start_after": "2026-03-02T00:00:00Z", "start_before": "2026-03-09T00:00:00+01:00"}
    arguments = {
        "connection_id": "acme",
        "email": "ada+demo@example.com",
        **window,
        "status": "active",
        "limit": 2,
        "cursor": "c1",
    }
    result = call(api.port, "search_bookings", arguments)
    # Then it gets the API's page, structured and as JSON text
    assert not result.is_error, text(result)
    assert result.structured_content == page
    assert json.loads(text(result)) == page
    # And the API saw one request, validly signed with the local stack's credentials, with every filter
    [seen] = api.seen
    assert (seen.method, seen.path, seen.signed_by) == ("GET", "/v1/connections/acme/bookings", "local")
    assert seen.query == {"email": "ada+demo@example.com", **window, "status": "active", "limit": "2", "cursor": "c1"}


def test_each_other_tool_reads_its_route(api: FakeV1Api) -> None:
    # Given the API's answers for a connection list, a booking, an event and the reports
    connections = {"connections": [CONNECTION], "next_cursor": None}
    event = {
        "event_uuid": "EVT-1",
        "name": "Demo",
        "event_type": "https://api.calendly.com/event_types/ET-1",
        "status": "active",
        "start_time": "2026-03-02T15:00:00.000000Z",
        "end_time": "2026-03-02T15:30:00.000000Z",
        "invitees": [booking("INV-1"), booking("INV-3", email="bob@example.com")],
    }
    api.answer("/v1/connections", connections)
    api.answer("/v1/connections/acme/bookings/INV-1", booking("INV-1"))
    api.answer("/v1/connections/acme/events/EVT-1", event)
    api.answer("/v1/connections/acme/reports", {"reports": [REPORT]})
    calls = [
        ("list_connections", {}),
        ("get_booking", {"connection_id": "acme", "invitee_uuid": "INV-1"}),
        ("get_event", {"connection_id": "acme", "event_uuid": "EVT-1"}),
        ("completeness_report", {"connection_id": "acme", "limit": 3}),
    ]

    # When the assistant calls each tool, in one session
    async def work(session: ClientSession) -> list[CallToolResult]:
        return [await session.call_tool(name, arguments) for name, arguments in calls]

    results = run_server(api.port, work)
    # Then each returns its route's answer
    assert [r.structured_content for r in results] == [connections, booking("INV-1"), event, {"reports": [REPORT]}]
    # And each was one signed GET on that route
    assert [(s.path, s.query, s.signed_by) for s in api.seen] == [
        ("/v1/connections", {"limit": "50"}, "local"),
        ("/v1/connections/acme/bookings/INV-1", {}, "local"),
        ("/v1/connections/acme/events/EVT-1", {}, "local"),
        ("/v1/connections/acme/reports", {"limit": "3"}, "local"),
    ]


def test_a_4xx_is_a_tool_error_with_the_apis_message_and_the_server_keeps_serving(api: FakeV1Api) -> None:
    # Given the API refuses a bad window (400 naming the parameter) and knows no booking INV-9
    bad = {
        "error": "bad_request",
        "message": "must be later than start_after",
        "parameter": "start_before",
    }
    api.answer("/v1/connections/acme/bookings", bad, status=400)
    api.answer("/v1/connections/acme/bookings/INV-9", {"error": "not_found", "message": "no booking INV-9"}, status=404)
    api.answer("/v1/connections/acme/reports", {"reports": []})
    window = {"start_after": "2026-03-09T00:00:00Z", "start_before": "2026-03-02T00:00:00Z"}

    # When the assistant makes both bad calls, then a good one, in one session
    async def work(session: ClientSession) -> list[CallToolResult]:
        return [
            await session.call_tool("search_bookings", {"connection_id": "acme", **window}),
            await session.call_tool("get_booking", {"connection_id": "acme", "invitee_uuid": "INV-9"}),
            await session.call_tool("completeness_report", {"connection_id": "acme"}),
        ]

    refused, unknown, fine = run_server(api.port, work)
    # Then each refusal is a tool error carrying the API's words
    assert refused.is_error
    assert "400 bad_request (parameter start_before): must be later than start_after" in text(refused)
    assert unknown.is_error
    assert "404 not_found: no booking INV-9" in text(unknown)
    # And the server still answers the next call
    assert not fine.is_error
    assert fine.structured_content == {"reports": []}


def test_arguments_outside_the_schema_are_refused_before_any_request(api: FakeV1Api) -> None:
    # When the assistant passes a path-like connection id and a page too large
    async def work(session: ClientSession) -> list[CallToolResult]:
        return [
            await session.call_tool("search_bookings", {"connection_id": "../erasures"}),
            await session.call_tool("list_connections", {"limit": 1000}),
        ]

    results = run_server(api.port, work)
    # Then both are tool errors and the API was never called
    assert all(result.is_error for result in results)
    assert api.seen == []


def test_a_call_the_gateway_refuses_as_badly_signed_is_a_tool_error_saying_so() -> None:
    # Given an API that expects other credentials than the local stack's
    api = FakeV1Api(secret_key="not-the-local-secret").start()
    try:
        # When the assistant lists connections
        result = call(api.port, "list_connections", {})
    finally:
        api.stop()
    # Then the gateway's 403 reaches the assistant as a tool error, with what to check
    assert result.is_error
    assert "403: The request signature we calculated does not match" in text(result)
    assert "IAM" in text(result)


def test_an_unreachable_api_is_a_tool_error_not_a_crash() -> None:
    # Given nothing listens on the API's port
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    # When the assistant calls a tool twice
    async def work(session: ClientSession) -> list[CallToolResult]:
        return [await session.call_tool("search_bookings", {"connection_id": "local"}) for _ in range(2)]

    results = run_server(port, work)
    # Then each call is a tool error naming the API's address, and the server lived to answer both
    for result in results:
        assert result.is_error
        assert f"could not reach the calsync API at http://127.0.0.1:{port}" in text(result)


def test_the_fake_api_holds_to_the_contract_and_to_sigv4() -> None:
    # The stand-in refuses an answer the contract does not allow (a booking without its version) …
    page = {"bookings": [{k: v for k, v in booking().items() if k != "version"}], "next_cursor": None}
    with pytest.raises(ValidationError):
        check_answer("GET", "/v1/connections/acme/bookings", 200, page)
    # … a status the route does not declare, and a route the contract does not have
    with pytest.raises(AssertionError):
        check_answer("GET", "/v1/connections", 404, {"error": "not_found", "message": "x"})
    with pytest.raises(AssertionError):
        check_answer("GET", "/v1/bookings", 200, {})
    # And its signature check agrees with botocore's signer, and notices a query changed after signing
    credentials = Credentials("local", "local")
    request = AWSRequest(
        method="GET", url="http://127.0.0.1:9/v1/connections/acme/bookings?email=a%2Bb%40x.com&limit=5"
    )
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    headers = {name.lower(): value for name, value in request.headers.items()} | {"host": "127.0.0.1:9"}
    target = "/v1/connections/acme/bookings?email=a%2Bb%40x.com&limit=5"
    keys = {"access_key": "local", "secret_key": "local", "region": "us-east-1"}
    assert signature_problem("GET", target, headers, b"", **keys) is None
    assert signature_problem("GET", target.replace("limit=5", "limit=6"), headers, b"", **keys) is not None
    assert signature_problem("GET", target, headers, b"", **(keys | {"region": "eu-west-1"})) is not None
    assert signature_problem("GET", target, {"host": "127.0.0.1:9"}, b"", **keys) == "Missing Authentication Token"
