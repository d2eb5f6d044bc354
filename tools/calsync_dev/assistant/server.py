"""The MCP server: five read-only tools, each one signed GET on the /v1 API (docs/mcp.md).

The tools return the API's JSON unchanged (as structured content and as text); a refusal or a
network error is a tool error carrying the API's message, and the server keeps serving.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from calsync_dev.assistant.api import ApiError, SignedApi

TOOLS = ("list_connections", "search_bookings", "get_booking", "get_event", "completeness_report")

READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)

INSTRUCTIONS = """\
calsync stores every Calendly booking of its connections (tenants). Start with list_connections
to learn the connection ids, then search_bookings (by email, start-time window, status), get_booking,
get_event and completeness_report for one connection. Times are ISO 8601 with a zone, in UTC with Z
in answers. Lists are paged: pass next_cursor back as cursor, with the same filters, for more.
Read-only: nothing here changes calsync or Calendly."""

ConnectionId = Annotated[
    str,
    Field(
        description="The connection (tenant) id, as list_connections shows it, e.g. 'local' or 'acme'.",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
    ),
]
Limit = Annotated[int, Field(description="Page size, 1 to 100 (default 50).", ge=1, le=100)]
Cursor = Annotated[
    str | None,
    Field(description="The previous page's next_cursor, unchanged, to get the next page (same filters)."),
]
Time = Annotated[
    str | None,
    Field(description="ISO 8601 date-time with a zone, e.g. 2026-12-07T00:00:00Z or 2026-12-07T09:00:00+01:00."),
]
Uuid = Annotated[str, Field(min_length=1, max_length=128)]

BOOKING_FIELDS = (
    "Each booking has invitee_uuid, event_uuid, status (active|canceled), start_time and end_time "
    "(UTC, ISO 8601), event_name, event_type, name and email (the invitee's), no_show (null or when "
    "it was marked), cancellation (null or who canceled, why), rescheduled_from / rescheduled_to "
    "(the invitee uuids of a reschedule, both ways), tracking (UTM) and version."
)


def tool_answer(call: Callable[[], object]) -> dict[str, Any]:
    """``call``'s JSON object, for a tool to return; a failed call or any other JSON is a ``ToolError``
    whose message the assistant reads."""
    try:
        answer = call()
    except ApiError as exc:
        raise ToolError(str(exc)) from exc
    if not isinstance(answer, dict):
        raise ToolError("the calsync API answered with JSON that is not an object")
    return answer


def build_server(api: SignedApi, *, allow_actions: bool = False) -> MCPServer[Any]:
    """The server for the /v1 API at ``api`` (the local stack's or a deployed stack's); with
    ``allow_actions`` also the tools that act in Calendly (``assistant.actions``)."""
    # WARNING: the SDK logs each failed call at INFO on stderr; an MCP client keeps that log.
    instructions = (
        INSTRUCTIONS
        if not allow_actions
        else INSTRUCTIONS.replace(
            "Read-only: nothing here changes calsync or Calendly.",
            "book, cancel_booking, mark_no_show and clear_no_show act in Calendly (it e-mails the invitee): "
            "confirm with the user first; pass the same idempotency_key to retry one.",
        )
    )
    server: MCPServer[Any] = MCPServer("calsync", instructions=instructions, version="1", log_level="WARNING")

    def call(*segments: str, **query: str | int | None) -> dict[str, Any]:
        return tool_answer(lambda: api.get(segments, query))

    @server.tool(annotations=READ_ONLY)
    def list_connections(limit: Limit = 50, cursor: Cursor = None) -> dict[str, Any]:
        """Every connection (a tenant's Calendly organization) calsync keeps.

        Returns {"connections": [...], "next_cursor"}: each with connection_id, kind (oauth|pat),
        status (active|reauth_required|removed), organization (Calendly URI), token_expires_at,
        subscription {state, retry_started_at, last_checked_at} (webhook health) and latest_report
        (the latest completeness report's summary, or null). Never a secret.
        """
        return call("connections", limit=limit, cursor=cursor)

    @server.tool(
        annotations=READ_ONLY,
        description=f"""A connection's bookings, ordered by start time, filtered by invitee
email, a start-time window and status; one page at a time.

Returns {{"bookings": [...], "next_cursor"}}; next_cursor is null on the last page. {BOOKING_FIELDS}
For "who missed their demo this week": a window over the week, then look at no_show.""",
    )
    def search_bookings(
        connection_id: ConnectionId,
        email: Annotated[
            str | None, Field(description="Only this invitee's bookings (compared case-insensitively).", max_length=254)
        ] = None,
        start_after: Time = None,
        start_before: Time = None,
        status: Annotated[
            Literal["active", "canceled"] | None, Field(description="active (scheduled) or canceled.")
        ] = None,
        limit: Limit = 50,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        return call(
            "connections",
            connection_id,
            "bookings",
            email=email,
            start_after=start_after,
            start_before=start_before,
            status=status,
            limit=limit,
            cursor=cursor,
        )

    @server.tool(
        annotations=READ_ONLY,
        description=f"""One booking by its invitee's uuid (the invitee_uuid of search_bookings).

Returns the booking. {BOOKING_FIELDS} Unknown uuid: an error (404).""",
    )
    def get_booking(connection_id: ConnectionId, invitee_uuid: Uuid) -> dict[str, Any]:
        return call("connections", connection_id, "bookings", invitee_uuid)

    @server.tool(annotations=READ_ONLY)
    def get_event(connection_id: ConnectionId, event_uuid: Uuid) -> dict[str, Any]:
        """One scheduled event (a meeting) with all its invitees (the event_uuid of a booking).

        Returns {event_uuid, name, event_type, status, start_time, end_time (UTC, ISO 8601),
        invitees: [bookings, each as search_bookings shows them]}. Unknown uuid: an error (404).
        """
        return call("connections", connection_id, "events", event_uuid)

    @server.tool(annotations=READ_ONLY)
    def completeness_report(connection_id: ConnectionId, limit: Limit = 5) -> dict[str, Any]:
        """The connection's latest completeness reports, newest first: whether calsync holds every
        booking Calendly has (the reconciler compares them and repairs differences).

        Returns {"reports": [...]}: each with started_at, reason (scheduled|gap|manual), complete
        (true when every window was covered), stopped (why it stopped early, or null), api_calls,
        counts (events_seen, invitees_seen, missing, stale, newer, repaired …), duration_seconds and
        windows [{name, start, end, coverage: covered|partial|not reached}].
        """
        return call("connections", connection_id, "reports", limit=limit)

    if allow_actions:
        from calsync_dev.assistant.actions import add_action_tools

        add_action_tools(server, api)
    return server
