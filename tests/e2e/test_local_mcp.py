"""``calsync mcp`` against the real local stack: an assistant's MCP client (the SDK's, over stdio)
finds a booking delivered by webhook through the signed /v1 API, as on a deployed stack.

Tools whose route the local stack does not serve yet are skipped by ``needs_route`` until the
template's API body names it (they enable themselves when the read routes land).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from mcp import ClientSession
from mcp.types import CallToolResult

from calsync_dev.cli.bookings import find_bookings
from calsync_dev.cli.send import post_signed
from calsync_dev.cli.target import Target
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.local.gateway import api_routes
from calsync_dev.template import load
from tests.e2e.conftest import RunningStack, wait_for
from tests.factories import EVENTS
from tests.mcp_client import run_mcp

pytestmark = pytest.mark.e2e
SERVED = {(route.method, route.resource) for route in api_routes(load())}


def needs_route(path: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(("GET", path) not in SERVED, reason=f"the local stack does not serve GET {path} yet")


def mcp(stack: RunningStack, work: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    return run_mcp({"CALSYNC_HOST": "127.0.0.1", **stack.env}, work)


def tool(stack: RunningStack, name: str, arguments: dict[str, Any]) -> CallToolResult:
    async def work(session: ClientSession) -> CallToolResult:
        return await session.call_tool(name, arguments)

    result: CallToolResult = mcp(stack, work)
    return result


@pytest.fixture(scope="module")
def ada(local_stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Ada's demo booking, delivered to the `local` connection by a signed webhook, as the assistant sees it."""
    body = (EVENTS / "webhooks" / "invitee_created.json").read_bytes()
    status, _ = post_signed(local_stack.webhook_url, body, DEFAULT_LOCAL_KEY)
    assert status == 202
    with pytest.MonkeyPatch.context() as patch:
        target: Target = local_stack.target(patch)
        wait_for(lambda: find_bookings(target, email="ada@example.com"), what="ada's booking to be stored")
    result = tool(local_stack, "search_bookings", {"connection_id": "local", "email": "ADA@example.com"})
    assert not result.is_error, result.content
    page: dict[str, Any] = result.structured_content
    [booking] = page["bookings"]
    return dict(booking)


def test_an_assistant_finds_a_delivered_booking_by_email(ada: dict[str, Any]) -> None:
    # Given Ada's booking arrived by webhook; When the assistant searches the local connection by her email
    # Then it finds her demo with the invitee's details
    assert ada["email"] == "ada@example.com"
    assert ada["event_name"] == "Product demo"
    assert ada["status"] == "active"


def test_a_time_window_that_excludes_it_finds_nothing_and_a_bad_one_is_the_apis_400(
    local_stack: RunningStack, ada: dict[str, Any]
) -> None:
    # When the assistant asks for the window ending before Ada's demo starts, then for a reversed window
    async def work(session: ClientSession) -> list[CallToolResult]:
        before = {"connection_id": "local", "start_before": ada["start_time"]}
        reversed_window = {
            "connection_id": "local",
            "start_after": "2030-01-02T00:00:00Z",
            "start_before": "2030-01-01T00:00:00Z",
        }
        return [await session.call_tool("search_bookings", args) for args in (before, reversed_window)]

    earlier, refused = mcp(local_stack, work)
    # Then the first is an empty page, and the second the API's own 400 as a tool error
    assert not earlier.is_error
    assert ada["invitee_uuid"] not in {b["invitee_uuid"] for b in earlier.structured_content["bookings"]}
    assert refused.is_error
    assert "400" in str(refused.content)


@needs_route("/v1/connections")
def test_the_local_connection_is_listed(local_stack: RunningStack) -> None:
    result = tool(local_stack, "list_connections", {})
    assert not result.is_error, result.content
    assert "local" in {c["connection_id"] for c in result.structured_content["connections"]}


@needs_route("/v1/connections/{connection_id}/bookings/{invitee_uuid}")
def test_the_booking_reads_back_by_its_invitee_uuid(local_stack: RunningStack, ada: dict[str, Any]) -> None:
    result = tool(local_stack, "get_booking", {"connection_id": "local", "invitee_uuid": ada["invitee_uuid"]})
    assert not result.is_error, result.content
    assert result.structured_content == ada


@needs_route("/v1/connections/{connection_id}/events/{event_uuid}")
def test_its_event_reads_back_with_its_invitees(local_stack: RunningStack, ada: dict[str, Any]) -> None:
    result = tool(local_stack, "get_event", {"connection_id": "local", "event_uuid": ada["event_uuid"]})
    assert not result.is_error, result.content
    assert ada["invitee_uuid"] in {i["invitee_uuid"] for i in result.structured_content["invitees"]}


@needs_route("/v1/connections/{connection_id}/reports")
def test_the_completeness_reports_read(local_stack: RunningStack) -> None:
    result = tool(local_stack, "completeness_report", {"connection_id": "local"})
    assert not result.is_error, result.content
    assert isinstance(result.structured_content["reports"], list)
