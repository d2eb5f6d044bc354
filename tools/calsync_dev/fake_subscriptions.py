"""The fake Calendly's ``POST /webhook_subscriptions`` (``calsync_dev.fake_calendly``)."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

from calsync_dev.fake_scopes import PLAN_REFUSES, subscribe_refusal

if TYPE_CHECKING:
    from calsync_dev.fake_calendly import FakeCalendly


def subscribe(fake: FakeCalendly, request: dict[str, Any], bearer: str = "") -> tuple[int, Any]:
    """``POST /webhook_subscriptions``: refused per the token's scopes and the plan (400/403), 409
    for a URL the organization already has, else 201 with the new subscription."""
    plan = PLAN_REFUSES[fake.plan] | (set() if fake.routing_forms_plan else {"routing_form_submission.created"})
    refused = subscribe_refusal(fake.token_scopes.get(bearer), list(request.get("events", [])), frozenset(plan))
    if refused is not None:
        return (400 if refused["title"] == "Invalid Argument" else 403), refused
    url = request.get("url")
    for existing in fake.subscriptions.values():
        if existing["callback_url"] == url and existing["organization"] == request.get("organization"):
            return 409, {"title": "Already Exists", "message": "Hook with this url already exists"}
    uri = f"{fake.api_base}/webhook_subscriptions/{uuid.uuid4().hex.upper()}"
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(fake.clock()))
    fake.subscriptions[uri] = {
        "uri": uri,
        "callback_url": url,
        "created_at": now,
        "updated_at": now,
        "retry_started_at": None,
        "state": "active",
        "events": request.get("events", []),
        "scope": request.get("scope"),
        "organization": request.get("organization"),
        "user": request.get("user"),
        "group": None,
        "creator": fake.user,
    }
    fake.signing_keys[uri] = request.get("signing_key")
    fake._count_subscriptions(request.get("organization"))
    return 201, {"resource": fake.subscriptions[uri]}
