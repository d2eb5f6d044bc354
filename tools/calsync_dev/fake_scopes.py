"""Which scope each call the fake Calendly serves needs, as Calendly's catalog names them, and
what a token lacks for it (``x:write`` includes ``x:read``; tokens made before scopes existed,
or ``default``, may do anything)."""

from __future__ import annotations

# Everything calsync uses, plus a neighbour it does not (a token is rarely exactly minimal).
DEFAULT_SCOPES = "users:read scheduled_events:read routing_forms:read webhooks:write event_types:read"


def scope_for(method: str, path: str) -> str | None:
    """The scope Calendly's catalog names for a call the fake serves."""
    if path.startswith("/webhook_subscriptions"):
        return "webhooks:read" if method == "GET" else "webhooks:write"
    if path.startswith(("/invitees", "/invitee_no_shows")):  # the Scheduling API, no-shows
        return "scheduled_events:read" if method == "GET" else "scheduled_events:write"
    if path.startswith("/scheduled_events"):
        return "scheduled_events:read" if method == "GET" else "scheduled_events:write"
    if path.startswith("/routing_form"):
        return "routing_forms:read"
    if path.startswith("/users"):
        return "users:read"
    return None


def lacking(granted: str | None, method: str, path: str) -> str | None:
    """The scope the call needs that ``granted`` (space-separated) lacks, or ``None``."""
    if granted is None or granted.strip() in ("", "default"):  # pre-scope tokens: full access
        return None
    needed = scope_for(method, path)
    if needed is None:
        return None
    have = set(granted.split())
    domain, _, access = needed.partition(":")
    return None if needed in have or (access == "read" and f"{domain}:write" in have) else needed
