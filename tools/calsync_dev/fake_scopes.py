"""Which scope each call the fake Calendly serves needs, as Calendly's catalog names them, and
what a token lacks for it (``x:write`` includes ``x:read``; tokens made before scopes existed,
or ``default``, may do anything)."""

from __future__ import annotations

# Everything calsync uses, plus a neighbour it does not (a token is rarely exactly minimal).
DEFAULT_SCOPES = (
    "users:read scheduled_events:read routing_forms:read webhooks:write event_types:read contacts:read "
    "meeting_recaps:read"
)


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


# -- webhook subscriptions: each event family's read scope, and what a plan refuses ------------

FAMILY_SCOPES = {
    "invitee": "scheduled_events:read",
    "invitee_no_show": "scheduled_events:read",
    "routing_form_submission": "routing_forms:read",
    "event_type": "event_types:read",
    "meeting_recap": "meeting_recaps:read",
    "contact": "contacts:read",
}
# The events each plan refuses on POST /webhook_subscriptions (Calendly, since 2026-11-19: routing
# forms and Notetaker need a plan with the feature; everything else works on Free).
PLAN_REFUSES: dict[str, frozenset[str]] = {
    "paid": frozenset(),
    "standard": frozenset({"routing_form_submission.created"}),  # Notetaker, no routing forms
    "free": frozenset(
        {"routing_form_submission.created", "meeting_recap.created", "meeting_recap.updated", "meeting_recap.deleted"}
    ),
}
UPGRADE = {"title": "Permission Denied", "message": "Please upgrade to a paid Calendly account."}


def subscribe_refusal(granted: str | None, events: list[str], refused_by_plan: frozenset[str]) -> dict[str, str] | None:
    """Calendly's 403 body for subscribing to ``events``, or ``None`` when it is allowed: an
    event the plan refuses (the upgrade message, naming no event), or one whose family's read
    scope the token lacks."""
    if any(event in refused_by_plan for event in events):
        return UPGRADE
    unknown = [e for e in events if e.split(".", 1)[0] not in FAMILY_SCOPES]
    if unknown:
        return {"title": "Invalid Argument", "message": f"unknown events: {', '.join(unknown)}"}
    for event in events:
        needed = FAMILY_SCOPES[event.split(".", 1)[0]]
        if _lacks(granted, needed):
            return {"title": "Permission Denied", "message": f"This request requires the {needed} scope"}
    return None


def _lacks(granted: str | None, needed: str) -> bool:
    if granted is None or granted.strip() in ("", "default"):
        return False
    have = set(granted.split())
    domain, _, access = needed.partition(":")
    return not (needed in have or (access == "read" and f"{domain}:write" in have))
