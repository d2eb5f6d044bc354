"""Which subscriptions are a connection's, the replacement URL, and the start of a delivery gap:
pure rules, no AWS, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.calendly.models import WebhookSubscription
from calsync.connections import gaps
from calsync.connections.gaps import Gap
from calsync.connections.records import Connection
from calsync.connections.subscriptions import free_url, is_ours

BASE = "https://hooks.example.com/dev/webhooks/calendly/acme"
NOW = datetime(2027, 1, 20, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "ours"),
    [
        (BASE, True),
        (f"{BASE}?subscription=2", True),
        (f"{BASE}/", True),
        (f"{BASE}?other=1", False),  # someone else's query: not a form calsync makes
        (f"{BASE}?subscription=2&x=1", False),
        (f"{BASE}-other", False),  # another connection whose id starts the same
        ("https://hooks.example.com/dev/webhooks/calendly/beta", False),
        ("https://elsewhere.example.com/dev/webhooks/calendly/acme", False),
    ],
)
def test_a_subscription_is_ours_by_its_callback_url_in_either_form(url: str, ours: bool) -> None:
    assert is_ours(url, BASE) is ours


def test_the_replacement_url_is_the_first_form_no_subscription_holds() -> None:
    assert free_url(BASE, []) == BASE
    assert free_url(BASE, [BASE]) == f"{BASE}?subscription=2"
    assert free_url(BASE, [BASE, f"{BASE}?subscription=2"]) == f"{BASE}?subscription=3"
    assert free_url(BASE, [f"{BASE}?subscription=2"]) == BASE


def connection(**fields: Any) -> Connection:
    return Connection(
        connection_id="acme",
        kind="oauth",
        status="active",
        organization="https://api.calendly.com/organizations/ORG",
        owner=None,
        callback_url=BASE,
        token_secret="t",
        signing_key_secret="k",
        **fields,
    )


def subscription(**fields: Any) -> WebhookSubscription:
    return WebhookSubscription.model_validate(
        {
            "uri": "https://api.calendly.com/webhook_subscriptions/S1",
            "callback_url": BASE,
            "events": ["invitee.created"],
            "scope": "organization",
            "organization": "https://api.calendly.com/organizations/ORG",
            "state": "disabled",
            **fields,
        }
    )


def test_a_disabled_subscription_failed_from_its_retry_start_or_a_day_before_it_was_disabled() -> None:
    retried = subscription(retry_started_at="2027-01-18T10:00:00Z", updated_at="2027-01-19T10:00:00Z")
    plain = subscription(updated_at="2027-01-19T12:00:00Z")
    assert gaps.first_failure(connection(), [retried], NOW) == datetime(2027, 1, 18, 10, tzinfo=UTC)
    assert gaps.first_failure(connection(), [plain], NOW) == datetime(2027, 1, 18, 12, tzinfo=UTC)
    assert gaps.first_failure(connection(), [plain, retried], NOW) == datetime(2027, 1, 18, 10, tzinfo=UTC)


def test_a_missing_subscription_failed_from_the_last_healthy_check_or_at_most_a_week_back() -> None:
    seen = connection(subscription_healthy_at="2027-01-20T09:00:00Z", created_at="2026-01-01T00:00:00Z")
    assert gaps.first_failure(seen, [], NOW) == datetime(2027, 1, 20, 9, tzinfo=UTC)
    recent = connection(created_at="2027-01-19T00:00:00Z")
    assert gaps.first_failure(recent, [], NOW) == datetime(2027, 1, 19, tzinfo=UTC)
    recreated = connection(
        created_at="2026-01-01T00:00:00Z", subscription_recreated=[{"recreated_at": "2027-01-17T00:00:00Z"}]
    )
    assert gaps.first_failure(recreated, [], NOW) == datetime(2027, 1, 17, tzinfo=UTC)
    old = connection(created_at="2026-01-01T00:00:00Z")
    assert gaps.first_failure(old, [], NOW) == NOW - timedelta(days=7)
    assert gaps.first_failure(connection(), [], NOW) == NOW - timedelta(days=7)


def test_a_gap_is_requested_once_and_an_unsent_one_is_not_lost() -> None:
    gap = gaps.retrying(datetime(2027, 1, 18, 10, tzinfo=UTC), timedelta(hours=1))
    assert gap.since == datetime(2027, 1, 18, 9, tzinfo=UTC)
    sent = gap.record(requested_at=NOW, noticed_at=NOW)
    assert gap.already_requested(sent)
    assert not gap.already_requested(gap.record(requested_at=None, noticed_at=NOW))
    assert not gaps.recreated("disabled", datetime(2027, 1, 18, 10, tzinfo=UTC), timedelta(0)).already_requested(sent)
    # a newer gap after an unsent older one reaches back to the older one's start
    unsent = Gap(datetime(2027, 1, 10, tzinfo=UTC), "older").record(requested_at=None, noticed_at=NOW)
    assert gap.merged(unsent).since == datetime(2027, 1, 10, tzinfo=UTC)
    assert gap.merged(unsent).reason == gap.reason
    assert gap.merged(sent) == gap
