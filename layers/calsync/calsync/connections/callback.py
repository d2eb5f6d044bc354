"""The OAuth callback's HTTP edges (``GET /oauth/callback``): the API's public base URL as the
caller reached it, and the answer it gives (a small HTML page, or JSON when asked for)."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any


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
    text = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>calsync: {html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>"
        f"<p><small>{html.escape(reason)}</small></p></body></html>"
    )
    return {"statusCode": status, "headers": {"Content-Type": "text/html; charset=utf-8"}, "body": text}
