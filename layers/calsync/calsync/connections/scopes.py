"""The Calendly scopes a connection's token must hold, and which of them a token lacks.

Calendly requires scopes for OAuth apps and personal access tokens made since 2026-03-03; a
call outside them is 403, and a webhook subscription delivers an event family only while the
token holds that family's read scope (developer.calendly.com/scopes). A ``:write`` scope
includes the ``:read`` of its domain. Tokens made before scopes existed carry none (or the old
``default``) and keep full access: nothing is missing for them.
"""

from __future__ import annotations

from datetime import datetime

from calsync.calendly.errors import CalendlyPermissionError
from calsync.connections import events
from calsync.connections.ports import Calendly

# The read scope each webhook event needs (``connections.events``). Only the core events'
# scope is required: a token lacking another event's scope subscribes to the rest, and the
# connection reports what it lacks (``events.for_scopes``).
EVENT_SCOPES: dict[str, str] = {event: events.scope_of(event) for event in events.ALL_EVENTS}
SUBSCRIBING = "webhooks:write"  # create, list (webhooks:read) and delete subscriptions
RECONCILER_READS = ("scheduled_events:read",)  # scheduled events and their invitees
LEGACY_SCOPES = frozenset({"", "default"})  # what pre-scope tokens carry


def required() -> list[str]:
    """Every scope calsync cannot work without, sorted (the core events' and the reconciler's)."""
    core = (EVENT_SCOPES[event] for event in events.ALL_EVENTS if events.family(event) in events.CORE)
    return sorted({SUBSCRIBING, *RECONCILER_READS, *core})


def optional() -> list[str]:
    """The scopes of the other events, sorted: without one, its events are left out."""
    return sorted(set(EVENT_SCOPES.values()) - set(required()))


_covers = events.covers


def missing(granted: str | None) -> list[str]:
    """The required scopes the space-separated ``granted`` lacks (none for a pre-scope token)."""
    if granted is None or granted.strip() in LEGACY_SCOPES:
        return []
    have = set(granted.split())
    return [scope for scope in required() if not _covers(have, scope)]


def refusal(lacking: list[str], *, how: str) -> str:
    """The message naming every missing scope (scope names only: nothing secret)."""
    return (
        f"The Calendly token lacks the scope{'s' if len(lacking) > 1 else ''} calsync needs: {', '.join(lacking)} "
        f"(calsync needs {', '.join(required())}). {how}"
    )


def probe_personal_token(calendly: Calendly, organization: str, now: datetime) -> list[str]:
    """The scopes a personal access token visibly lacks. Calendly tells a PAT's scopes nowhere
    (no token response; introspection is for OAuth apps), so two harmless reads are tried: one
    page of scheduled events (``scheduled_events:read``) and of webhook subscriptions
    (``webhooks:read``, without which ``webhooks:write`` is missing too). ``webhooks:write``
    itself cannot be tried without subscribing (a 403 there is reported then), nor
    ``routing_forms:read`` (Calendly also answers 403 to plans without routing forms)."""
    lacking: list[str] = []
    try:
        next(iter(calendly.list_scheduled_events(organization=organization, min_start_time=now)), None)
    except CalendlyPermissionError:
        lacking.append("scheduled_events:read")
    try:
        next(iter(calendly.list_webhook_subscriptions(organization, "organization")), None)
    except CalendlyPermissionError:
        lacking.append(SUBSCRIBING)
    return lacking
