"""What the fake Calendly (``calsync_dev.fake_calendly``) lists, as Calendly lists it: one page
of ``count`` (1..100, default 20) items from ``page_token`` on, with
``pagination.next_page_token``/``next_page``; scheduled events filtered by organization and start
time, sorted by start; an event's invitees; routing forms and their submissions, sorted by
``created_at`` (``sort=created_at:desc`` newest first)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode


class BadRequest(Exception):
    """A listing request Calendly would answer 400."""


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def page(items: list[dict[str, Any]], query: Mapping[str, str], url: str) -> dict[str, Any]:
    """One page as Calendly paginates: ``count`` items from ``page_token`` on (``url``: the
    listing's address, for ``next_page``)."""
    count = int(query.get("count", 20))
    if not 1 <= count <= 100:
        raise BadRequest("count must be between 1 and 100")
    token = query.get("page_token")
    offset = int(token.removeprefix("p")) if token and token.startswith("p") and token[1:].isdigit() else 0
    found = items[offset : offset + count]
    following = f"p{offset + count}" if offset + count < len(items) else None
    next_page = f"{url}?{urlencode({**query, 'page_token': following})}" if following is not None else None
    return {
        "collection": found,
        "pagination": {
            "count": len(found),
            "next_page": next_page,
            "next_page_token": following,
            "previous_page": None,
            "previous_page_token": None,
        },
    }


def scheduled_events(events: Mapping[str, dict[str, Any]], query: Mapping[str, str]) -> list[dict[str, Any]]:
    """The events starting in ``[min_start_time, max_start_time]``, by start time."""
    low, high = _time(query.get("min_start_time")), _time(query.get("max_start_time"))
    items = [
        e
        for e in events.values()
        if (low is None or _time(e["start_time"]) >= low)  # type: ignore[operator]
        and (high is None or _time(e["start_time"]) <= high)  # type: ignore[operator]
    ]
    return sorted(items, key=lambda e: (_time(e["start_time"]), e["uri"]))


def event_invitees(invitees: Mapping[str, dict[str, dict[str, Any]]], event_uuid: str) -> list[dict[str, Any]]:
    """The invitees of the event ``event_uuid``, by creation."""
    found = next((v for k, v in invitees.items() if k.rstrip("/").endswith(f"/{event_uuid}")), {})
    return sorted(found.values(), key=lambda i: (i.get("created_at") or "", i["uri"]))


FORM_REQUIRED = {"title": "Invalid Argument", "message": "form is required"}


def routing(
    submissions: Mapping[str, dict[str, dict[str, Any]]], organization: str, path: str, query: Mapping[str, str]
) -> list[dict[str, Any]] | None:
    """``GET /routing_forms?organization=``: the organization's forms (those submissions were
    added for); ``GET /routing_form_submissions?form=``: the form's submissions by
    ``created_at`` (newest first when asked). ``None``: no form named (Calendly's 400)."""
    if path == "/routing_forms":
        mine = query.get("organization") == organization
        return (
            [{"uri": form, "organization": organization, "status": "published"} for form in submissions] if mine else []
        )
    if path != "/routing_form_submissions" or "form" not in query:
        return None
    found = sorted(submissions.get(query["form"], {}).values(), key=lambda s: (s.get("created_at") or "", s["uri"]))
    return found[::-1] if query.get("sort") == "created_at:desc" else found
