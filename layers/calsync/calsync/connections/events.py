"""Which webhook events a connection subscribes to: every event Calendly sends (fourteen in
2026), less those its token's scopes do not cover, less those its plan refuses.

Calendly delivers an event family only to a subscription whose token holds the family's read
scope (developer.calendly.com/docs/authentication/scopes), and creating a subscription with an
event the organization owner's plan lacks the feature for is refused whole: 403 ``Permission
Denied`` / ``Please upgrade to a paid Calendly account.`` (release notes 2026-11-03), naming no
event. Since 2026-11-19 only ``routing_form_submission.created`` (routing forms) and
``meeting_recap.*`` (Notetaker) need a plan feature; ``contact.*`` and the rest work on every
plan, Free included. So a 403 is answered by trying again without the plan-gated families, the
fewest left out first (``attempts``).
"""

from __future__ import annotations

from itertools import combinations

from calsync.calendly.kinds import KindEvent
from calsync.calendly.models import WebhookEvent

# Every webhook event calsync subscribes to, in Calendly's order.
ALL_EVENTS: tuple[str, ...] = (*(e.value for e in WebhookEvent), *(e.value for e in KindEvent))

# The read scope each event family needs (developer.calendly.com/docs/authentication/scopes).
FAMILY_SCOPES: dict[str, str] = {
    "invitee": "scheduled_events:read",
    "invitee_no_show": "scheduled_events:read",
    "routing_form_submission": "routing_forms:read",
    "event_type": "event_types:read",
    "meeting_recap": "meeting_recaps:read",
    "contact": "contacts:read",
}
# Families a plan may refuse (403 on subscribing), the likeliest refused first.
PLAN_GATED: tuple[str, ...] = ("meeting_recap", "routing_form_submission")
# Families calsync cannot work without: a subscription always has them.
CORE: frozenset[str] = frozenset({"invitee", "invitee_no_show"})


def family(event: str) -> str:
    """``meeting_recap.created`` → ``meeting_recap``."""
    return event.split(".", 1)[0]


def scope_of(event: str) -> str:
    return FAMILY_SCOPES[family(event)]


def covers(granted: set[str], scope: str) -> bool:
    """``granted`` holds ``scope`` (a ``:write`` includes its domain's ``:read``)."""
    domain, _, access = scope.partition(":")
    return scope in granted or (access == "read" and f"{domain}:write" in granted)


def for_scopes(granted: str | None, legacy: frozenset[str] = frozenset({"", "default"})) -> tuple[list[str], list[str]]:
    """The events a token with ``granted`` (space-separated; ``None``/``default``: a token made
    before scopes existed, full access) may subscribe to, and the scopes it lacks for the rest."""
    if granted is None or granted.strip() in legacy:
        return list(ALL_EVENTS), []
    have = set(granted.split())
    events = [e for e in ALL_EVENTS if covers(have, scope_of(e))]
    return events, sorted({scope_of(e) for e in ALL_EVENTS if e not in events})


def wanted(missing_scopes: list[str] | None) -> list[str]:
    """The events to subscribe to when the token lacks ``missing_scopes``."""
    lacking = set(missing_scopes or ())
    return [e for e in ALL_EVENTS if scope_of(e) not in lacking]


def attempts(events: list[str]) -> list[list[str]]:
    """The event lists to try creating a subscription with, one after another while Calendly
    answers 403: ``events`` whole; then without each plan-gated family present and every pair of
    them (fewest left out first); last, the core families alone (a personal access token's scopes
    cannot be read, so a 403 may also mean a scope it lacks). At most five tries."""
    gated = [f for f in PLAN_GATED if any(family(e) == f for e in events)]
    tries: list[list[str]] = [list(events)]
    for size in range(1, len(gated) + 1):
        for dropped in combinations(gated, size):
            tries.append([e for e in events if family(e) not in dropped])
    tries.append([e for e in events if family(e) in CORE])
    unique: list[list[str]] = []
    for tried in tries:
        if tried and tried not in unique:
            unique.append(tried)
    return unique


def record(events: list[str], refused: list[str], missing_scopes: list[str], at: str) -> dict[str, object]:
    """What the connection record keeps about its subscription's events (shown by the API)."""
    return {"events": list(events), "refused_events": list(refused), "missing_scopes": list(missing_scopes), "at": at}
