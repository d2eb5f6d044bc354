"""Slack messages for lifecycle events: one readable line each, with only the personal
fields the operator allows (``name``, ``email``, ``answers``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from calsync import timefmt
from calsync.lifecycle.events import DetailType

PERSONAL_FIELDS = frozenset({"name", "email", "answers"})
SLACK_DETAIL_TYPES = frozenset(
    {
        DetailType.BOOKING_SCHEDULED,
        DetailType.BOOKING_RESCHEDULED,
        DetailType.BOOKING_CANCELED,
        DetailType.NO_SHOW_MARKED,
        DetailType.NO_SHOW_CLEARED,
    }
)


def _when(value: Any) -> str:
    if not isinstance(value, str) or not value:
        return "an unknown time"
    try:
        at = timefmt.parse(value)
    except ValueError:
        return value
    return at.strftime("%a %d %b %Y, %H:%M UTC")


def _who(booking: Mapping[str, Any], fields: frozenset[str]) -> str:
    name = booking.get("name") if "name" in fields else None
    email = booking.get("email") if "email" in fields else None
    if name and email:
        return f"{name} <{email}>"
    return str(name or email or "an invitee")


def slack_message(detail_type: str, detail: Mapping[str, Any], *, fields: frozenset[str]) -> dict[str, Any] | None:
    """The Slack payload for one event, or None for a detail-type Slack does not get."""
    if detail_type not in SLACK_DETAIL_TYPES:
        return None
    kind = DetailType(detail_type)
    booking: Mapping[str, Any] = detail.get("booking") or {}
    what, who, when = booking.get("event_name") or "A meeting", _who(booking, fields), _when(booking.get("start_time"))
    if kind is DetailType.BOOKING_SCHEDULED:
        line = f":calendar: *{what}* booked by {who} for {when}"
    elif kind is DetailType.BOOKING_RESCHEDULED:
        old: Mapping[str, Any] = detail.get("old") or {}
        line = f":arrows_counterclockwise: *{what}* with {who} moved from {_when(old.get('start_time'))} to {when}"
    elif kind is DetailType.BOOKING_CANCELED:
        by: Mapping[str, Any] = detail.get("canceled_by") or {}
        reason = f": {by['reason']}" if by.get("reason") else ""
        line = f":x: *{what}* with {who} on {when} canceled by the {by.get('type') or 'invitee'}{reason}"
    elif kind is DetailType.NO_SHOW_MARKED:
        line = f":warning: {who} did not show up to *{what}* on {when}"
    else:
        line = f":white_check_mark: No-show removed for {who} (*{what}* on {when})"
    if "answers" in fields:
        answers = [
            f"> {qa.get('question')}: {qa.get('answer')}"
            for qa in booking.get("questions_and_answers") or []
            if isinstance(qa, Mapping) and qa.get("answer")
        ]
        line = "\n".join([line, *answers])
    return {"text": line}


class NotConfigured(Exception):
    """The endpoint's secret has no URL yet (the rule was enabled before the secret was set)."""


Send = Callable[[str, bytes, Mapping[str, str]], int]


def notify_slack(event: Mapping[str, Any], *, endpoint: Mapping[str, Any], fields: frozenset[str], send: Send) -> bool:
    """Post one EventBridge event to Slack; False when Slack does not get this detail-type."""
    message = slack_message(str(event.get("detail-type")), event.get("detail") or {}, fields=fields)
    if message is None:
        return False
    url = endpoint.get("webhook_url")
    if not isinstance(url, str) or not url:
        raise NotConfigured("the Slack secret has no webhook_url")
    send(url, json.dumps(message).encode(), {"content-type": "application/json"})
    return True
