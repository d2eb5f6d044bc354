"""Calendly's refusals as an action's clear answers (docs/actions.md has the table).

By HTTP status, never by message text: Calendly's ``title``/``message`` travel on as the reason,
and a 400's ``details[].parameter`` names the parameter at fault (in the action's own terms).
"""

from __future__ import annotations

import math

from calsync.actions.requests import ActionRefused
from calsync.calendly.errors import (
    CalendlyAuthError,
    CalendlyError,
    CalendlyRateLimited,
    CalendlyUnavailable,
)

WRITE_SCOPE = "scheduled_events:write"  # what every action needs of the connection's token
# Calendly's parameter names (POST /invitees and the others) → the action's.
PARAMETERS = {
    "event_type": "event_type",
    "start_time": "start_time",
    "invitee": "invitee",
    "invitee.email": "invitee.email",
    "invitee.name": "invitee.name",
    "invitee.timezone": "invitee.timezone",
    "email": "invitee.email",
    "name": "invitee.name",
    "timezone": "invitee.timezone",
    "questions_and_answers": "answers",
    "reason": "reason",
}
DEFAULT_RETRY_AFTER = 60


def _reason(exc: CalendlyError) -> str:
    said = ": ".join(part for part in (exc.title, exc.message) if part)
    return f"Calendly answered {exc.status}: {said}" if said else f"Calendly answered {exc.status}"


def refusal(exc: CalendlyError, *, action: str) -> ActionRefused:
    """The answer for a Calendly failure during ``action`` (book, cancel, no-show, clear-no-show)."""
    if isinstance(exc, CalendlyRateLimited):
        wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RETRY_AFTER
        return ActionRefused(
            429,
            "rate_limited",
            "Calendly's rate limit for this connection is reached; retry after the Retry-After seconds.",
            retry_after=max(1, math.ceil(wait)),
        )
    if isinstance(exc, CalendlyUnavailable) or exc.status is None or exc.status >= 500:
        return ActionRefused(503, "calendly_unavailable", "Calendly is unavailable; retry later.", retry_after=30)
    if isinstance(exc, CalendlyAuthError):
        return ActionRefused(
            409,
            "reauthorization_required",
            "Calendly refused the connection's token; reconnect the connection.",
        )
    status, reason = exc.status, _reason(exc)
    if status == 400:
        named = next((d.parameter for d in exc.details if d.parameter), None)
        return ActionRefused(400, "bad_request", reason, parameter=PARAMETERS.get(named or "", "body"))
    if status == 403:
        return ActionRefused(
            403,
            "calendly_forbidden",
            f"{reason} (the token needs the {WRITE_SCOPE} scope, and the plan must allow this action)",
        )
    if status == 404:
        what = "event type" if action == "book" else "booking or no-show"
        return ActionRefused(404, "not_found", f"Calendly knows no such {what}. {reason}")
    if status == 409:
        error = "slot_unavailable" if action == "book" else "conflict"
        return ActionRefused(409, error, reason)
    if status == 424:  # the host's external calendar could not be read
        return ActionRefused(503, "calendly_unavailable", reason, retry_after=30)
    return ActionRefused(422, "calendly_refused", reason)  # 422 and any other 4xx: the request cannot be done
