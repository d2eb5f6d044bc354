"""Slack messages and signed HTTP forwarding of lifecycle events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from calsync.lifecycle.derive import derive
from calsync.lifecycle.forward import forward
from calsync.lifecycle.slack import NotConfigured, notify_slack, slack_message
from tests.unit.lifecycle.test_derive import Store, invitee

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def as_bus_event(detail_type: str, detail: Mapping[str, Any]) -> dict[str, Any]:
    """What EventBridge hands the consumers' queue."""
    return {
        "id": "eb-1",
        "source": "calsync",
        "detail-type": detail_type,
        "time": "2026-11-30T12:00:00Z",
        "detail": detail,
    }


def scheduled() -> dict[str, Any]:
    (event,) = derive(None, invitee(questions_and_answers=[{"question": "Team?", "answer": "12"}]), Store())
    return as_bus_event(event.detail_type.value, event.detail)


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, dict[str, str]]] = []

    def __call__(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        self.sent.append((url, body, dict(headers)))
        return 200


def test_a_slack_message_shows_only_the_allowed_personal_fields() -> None:
    event = scheduled()
    # Given only the name is allowed
    text = slack_message(event["detail-type"], event["detail"], fields=frozenset({"name"}))
    assert text == {"text": ":calendar: *Demo* booked by Ada for Tue 01 Dec 2026, 10:00 UTC"}
    # When nothing personal is allowed, the invitee is anonymous; with email and answers both show
    anonymous = slack_message(event["detail-type"], event["detail"], fields=frozenset())
    assert anonymous is not None
    assert "Ada" not in anonymous["text"]
    assert "ada@" not in anonymous["text"]
    full = slack_message(event["detail-type"], event["detail"], fields=frozenset({"name", "email", "answers"}))
    assert full is not None
    assert "Ada <ada@example.com>" in full["text"]
    assert "> Team?: 12" in full["text"]


def test_slack_gets_cancellations_with_who_and_why_but_not_reminders() -> None:
    cancellation = {"canceler_type": "host", "canceled_by": "Grace", "reason": "ill"}
    (event,) = derive(invitee(), invitee(status="canceled", cancellation=cancellation), Store())
    message = slack_message(event.detail_type.value, event.detail, fields=frozenset({"name"}))
    assert message == {"text": ":x: *Demo* with Ada on Tue 01 Dec 2026, 10:00 UTC canceled by the host: ill"}
    assert slack_message("Booking Starting Soon", event.detail, fields=frozenset()) is None


def test_notify_slack_posts_to_the_configured_url_and_refuses_an_empty_one() -> None:
    outbox = Outbox()
    assert notify_slack(
        scheduled(), endpoint={"webhook_url": "https://hooks.example/T/1"}, fields=frozenset(), send=outbox
    )
    (url, body, headers) = outbox.sent[0]
    assert url == "https://hooks.example/T/1"
    assert json.loads(body)["text"].startswith(":calendar:")
    assert headers["content-type"] == "application/json"
    with pytest.raises(NotConfigured):
        notify_slack(scheduled(), endpoint={"webhook_url": ""}, fields=frozenset(), send=outbox)


def test_a_forwarded_event_verifies_with_a_standard_webhooks_verifier() -> None:
    # Given an event forwarded to an endpoint just now
    outbox = Outbox()
    event = scheduled()
    forward(
        event,
        endpoint={"url": "https://crm.example/hook", "signing_secret": SECRET},
        send=outbox,
        now=datetime.now(UTC),
    )
    (_, body, headers) = outbox.sent[0]
    # Then the receiver's Standard Webhooks library accepts it, with the event's stable id
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["type"] == "Booking Scheduled"
    assert payload["data"]["event_id"] == headers["webhook-id"] == event["detail"]["event_id"]
    # And a tampered body, or another key, does not verify
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body + b" ", headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)


def test_forwarding_needs_a_url_and_a_secret() -> None:
    with pytest.raises(NotConfigured):
        forward(scheduled(), endpoint={"url": "https://x.example"}, send=Outbox(), now=NOW)


def test_consumers_back_off_between_attempts_up_to_fifteen_minutes() -> None:
    from calsync.store.queues import backoff_seconds

    assert [backoff_seconds(n) for n in range(1, 8)] == [30, 60, 120, 240, 480, 900, 900]


def test_a_signing_secret_that_is_not_base64_is_refused_by_name_not_by_a_decoding_crash() -> None:
    with pytest.raises(NotConfigured, match="base64"):
        forward(
            scheduled(), endpoint={"url": "https://x.example", "signing_secret": "not-base64_!"}, send=Outbox(), now=NOW
        )
