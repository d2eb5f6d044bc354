"""The OAuth callback's HTTP edges (``GET /oauth/callback``): the API's public base URL as the
caller reached it, and the answer it gives: a redirect to the pending authorization's
``return_to``, else a page (``connections.pages``), or JSON when asked for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from calsync.connections import pages
from calsync.connections.records import PendingAuthorization
from calsync.connections.return_to import redirect_url


def api_base(event: Mapping[str, Any]) -> str:
    """The public base URL of this API as the caller reached it: the execute-api host needs
    the stage in the path, a custom domain (base path mapping) or the local stack does not."""
    context = event.get("requestContext") or {}
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    host = context.get("domainName") or headers.get("host", "localhost")
    scheme = headers.get("x-forwarded-proto", "https")
    stage = context.get("stage")
    prefix = f"/{stage}" if stage and ".execute-api." in str(host) else ""
    return f"{scheme}://{host}{prefix}"


def asks_for_json(event: Mapping[str, Any]) -> bool:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    return "application/json" in headers.get("accept", "")


def page(status: int, title: str, message: str, reason: str, wants_json: bool) -> dict[str, Any]:
    if wants_json:
        body = json.dumps({"status": "connected"} if status == 200 else {"error": reason, "message": message})
        return {"statusCode": status, "headers": {"Content-Type": "application/json"}, "body": body}
    return {"statusCode": status, "headers": dict(pages.HEADERS), "body": pages.render(status, title, message, reason)}


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    """How a callback ended: ``status`` 200 and ``reason`` "connected", or a failure; ``pending``
    the authorization its state was, when it was one (where to send the customer back)."""

    status: int
    reason: str
    message: str
    pending: PendingAuthorization | None = None


def answer(outcome: CallbackOutcome, wants_json: bool) -> dict[str, Any]:
    """A 303 to the stored ``return_to`` with ``connection_id``, ``status`` (connected|failed) and
    ``reason`` added to its query; without one, the page (or JSON) for the outcome."""
    pending = outcome.pending
    if pending is not None and pending.return_to:
        location = redirect_url(
            pending.return_to,
            connection_id=pending.connection_id,
            status="connected" if outcome.status == 200 else "failed",
            reason=outcome.reason,
        )
        headers = {"Location": location, "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        return {"statusCode": 303, "headers": headers, "body": ""}
    return page(outcome.status, pages.heading(outcome.reason), outcome.message, outcome.reason, wants_json)
