"""Review of issue 12 (cost and speed): failing tests that prove defects a user would hit.

Each test states what a user of the deployed pipeline would see go wrong."""

from __future__ import annotations

import pytest

from calsync.store import clients
from calsync_dev import template
from calsync_dev.provision import Stack
from tests.factories import event_body
from tests.integration.conftest import Pipeline
from tests.integration.test_lifecycle import Lifecycle


def dynamodb_actions_allowed(function: str) -> set[str]:
    """The dynamodb:* actions the function's own policy statements grant (template.yaml)."""
    resource = template.load()["Resources"][function]
    allowed: set[str] = set()
    for policy in resource["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            actions = statement["Action"]
            allowed |= {a for a in ([actions] if isinstance(actions, str) else actions) if a.startswith("dynamodb:")}
    return allowed


@pytest.fixture
def lifecycle(pipeline: Pipeline, stack: Stack) -> Lifecycle:
    return Lifecycle(pipeline)


def test_every_dynamodb_call_the_lifecycle_publisher_makes_is_allowed_by_its_policy(lifecycle: Lifecycle) -> None:
    # Given a new booking stored by the processors (its change waiting on the table's stream)
    assert lifecycle.pipeline.post(event_body("invitee_created.json"))["statusCode"] == 202
    lifecycle.pipeline.drain()
    called: list[str] = []
    clients.dynamodb().meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: called.append(f"dynamodb:{model.name}")
    )
    # When the lifecycle publisher handles the stream batch
    lifecycle.source.drain()
    # Then every DynamoDB action it called is one its IAM policy grants (in AWS anything else is
    # AccessDenied: every stream batch fails, is retried 20 times, then lands in the DLQ unpublished)
    assert called, "the publisher made no DynamoDB call"
    assert set(called) <= dynamodb_actions_allowed("LifecyclePublisherFunction"), (
        f"called {sorted(set(called))}, policy grants {sorted(dynamodb_actions_allowed('LifecyclePublisherFunction'))}"
    )


def test_a_cancellation_never_reaches_consumers_before_the_booking_it_cancels(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integration.test_lifecycle import PutEventsSpy

    # Given a booking and its cancellation stored, their two changes in one stream batch
    for name in ("invitee_created.json", "invitee_canceled.json"):
        assert lifecycle.pipeline.post(event_body(name))["statusCode"] == 202
    lifecycle.pipeline.drain()
    # and the bus refusing the booking's entry on every attempt of the first invocation
    spy = PutEventsSpy(monkeypatch)
    spy.refuse["Booking Scheduled"] = 3
    # When the publisher runs over the batch (the stream retries from the record it reported)
    arrived = [e["detail-type"] for e in lifecycle.deliver()]
    # Then consumers receive the booking before its cancellation, as the table changed (a consumer
    # that keeps the last event per booking, deduplicating on event_id, must end with it canceled)
    assert arrived.index("Booking Scheduled") < arrived.index("Booking Canceled"), arrived
