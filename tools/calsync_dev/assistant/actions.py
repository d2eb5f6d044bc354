"""The MCP server's action tools (``calsync mcp --allow-actions`` only): each one signed call on
the actions routes (docs/actions.md), with an Idempotency-Key so a retried tool call books once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from calsync_dev.assistant.api import SignedApi
from calsync_dev.assistant.server import tool_answer

ACTION_TOOLS = ("book", "cancel_booking", "mark_no_show", "clear_no_show")
# Changes Calendly (open world: Calendly mails the invitee); the same key makes a retry harmless.
ACTS = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=True)

Connection = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]
Uuid = Annotated[str, Field(min_length=1, max_length=128, description="The booking's invitee_uuid.")]
Key = Annotated[
    str | None,
    Field(description="Reuse the same key to retry safely (a replay answers the first result); default: a new one."),
]


class QuestionAnswer(BaseModel):
    question: str
    answer: str


def add_action_tools(
    server: MCPServer[Any], api: SignedApi, new_key: Callable[[], str] = lambda: uuid.uuid4().hex
) -> None:
    def act(method: str, segments: tuple[str, ...], body: dict[str, Any] | None, key: str | None) -> dict[str, Any]:
        return tool_answer(lambda: api.send(method, segments, body=body, idempotency_key=key or new_key()))

    @server.tool(annotations=ACTS)
    def book(
        connection_id: Connection,
        event_type: Annotated[str, Field(description="The event type's uuid or Calendly URI.")],
        start_time: Annotated[str, Field(description="ISO 8601 with a zone; one of the event type's free slots.")],
        name: Annotated[str, Field(min_length=1, max_length=255)],
        email: Annotated[str, Field(min_length=3, max_length=254)],
        timezone: Annotated[str, Field(description="The invitee's IANA time zone, e.g. Europe/Paris.")],
        answers: list[QuestionAnswer] | None = None,
        idempotency_key: Key = None,
    ) -> dict[str, Any]:
        """Book a meeting in Calendly for the invitee (Calendly e-mails them). Returns the booking
        as calsync stores it. A taken slot is an error (409 slot_unavailable): pick another time."""
        body: dict[str, Any] = {
            "event_type": event_type,
            "start_time": start_time,
            "invitee": {"name": name, "email": email, "timezone": timezone},
        }
        if answers:
            body["answers"] = [a.model_dump() for a in answers]
        return act("POST", ("connections", connection_id, "bookings"), body, idempotency_key)

    @server.tool(annotations=ACTS)
    def cancel_booking(
        connection_id: Connection,
        invitee_uuid: Uuid,
        reason: Annotated[str | None, Field(max_length=10_000)] = None,
        idempotency_key: Key = None,
    ) -> dict[str, Any]:
        """Cancel the booking's meeting in Calendly (every invitee of a group event; Calendly
        e-mails them the reason). Returns the booking as stored, canceled."""
        body = {"reason": reason} if reason else {}
        return act("POST", ("connections", connection_id, "bookings", invitee_uuid, "cancel"), body, idempotency_key)

    @server.tool(annotations=ACTS)
    def mark_no_show(connection_id: Connection, invitee_uuid: Uuid, idempotency_key: Key = None) -> dict[str, Any]:
        """Mark the invitee as a no-show in Calendly. Returns the booking as stored."""
        return act("POST", ("connections", connection_id, "bookings", invitee_uuid, "no-show"), None, idempotency_key)

    @server.tool(annotations=ACTS)
    def clear_no_show(connection_id: Connection, invitee_uuid: Uuid, idempotency_key: Key = None) -> dict[str, Any]:
        """Clear the invitee's no-show mark in Calendly. Returns the booking as stored."""
        segments = ("connections", connection_id, "bookings", invitee_uuid, "no-show")
        return act("DELETE", segments, None, idempotency_key)
