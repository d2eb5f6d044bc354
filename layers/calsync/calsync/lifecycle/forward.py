"""Signed HTTP forwarding of lifecycle events, per the Standard Webhooks specification:
``webhook-id`` (the event's stable ``event_id``, so receivers deduplicate), ``webhook-timestamp``
and ``webhook-signature`` (HMAC-SHA256 with the endpoint's ``whsec_`` secret)."""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

from calsync.lifecycle.slack import NotConfigured, Send


def payload(event: Mapping[str, Any]) -> dict[str, Any]:
    """The body sent for an EventBridge event: ``{type, timestamp, data}``."""
    return {"type": event.get("detail-type"), "timestamp": event.get("time"), "data": event.get("detail") or {}}


def signed_request(event: Mapping[str, Any], secret: str, *, now: datetime) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one signed POST (the secret never leaves this function)."""
    body = json.dumps(payload(event), separators=(",", ":"), sort_keys=True)
    detail: Mapping[str, Any] = event.get("detail") or {}
    message_id = str(detail.get("event_id") or event.get("id"))
    signature = Webhook(secret).sign(message_id, now, body)
    headers = {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return body.encode(), headers


def forward(event: Mapping[str, Any], *, endpoint: Mapping[str, Any], send: Send, now: datetime) -> None:
    """POST one EventBridge event, signed, to the configured endpoint."""
    url, secret = endpoint.get("url"), endpoint.get("signing_secret")
    if not isinstance(url, str) or not url or not isinstance(secret, str) or not secret:
        raise NotConfigured("the forwarding secret needs url and signing_secret")
    try:
        Webhook(secret)
    except (binascii.Error, ValueError):
        raise NotConfigured("signing_secret must be base64, optionally whsec_-prefixed (Standard Webhooks)") from None
    body, headers = signed_request(event, secret, now=now)
    send(url, body, headers)
