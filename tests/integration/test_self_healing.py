"""Self-healing gaps, from the operator's side: the watchdog asks for a reconcile of a delivery gap by
itself (once per gap, on the reconcile-requests queue), replaces subscriptions new before old, and
connect refuses a token without the scopes calsync needs. moto + the stateful fake Calendly."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest

from calsync.connections.connect import ConnectError
from calsync.connections.watchdog import Health, Watchdog
from calsync.reconcile.requests import ReconcileRequest
from calsync_dev.cli.connections import _notes
from calsync_dev.events import signed_api_gateway_event
from calsync_dev.fake_calendly import FakeCalendly
from calsync_dev.provision import Stack
from tests.factories import KEY, event_body
from tests.integration.conftest import Pipeline
from tests.integration.test_connections import API_BASE, NOW, World, make_world, watchdog

HOUR = 3600.0


@pytest.fixture
def world(stack: Stack) -> World:
    made = make_world(stack)
    made.fake.token_lifetime = 90 * 24 * 3600  # the hourly runs here span days; refreshing is not the point
    return made


def requests_on_queue(world: World) -> list[ReconcileRequest]:
    """Every reconcile request waiting on the queue (received and deleted, as a consumer would)."""
    sqs = boto3.client("sqs")
    url = world.stack.queue_urls["ReconcileRequestsQueue"]
    found: list[ReconcileRequest] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(ReconcileRequest.from_message_body(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def hourly(world: World, runs: int = 1, dog: Watchdog | None = None) -> dict[str, Health]:
    result: dict[str, Health] = {}
    for _ in range(runs):
        result = (dog or watchdog(world)).run()
        world.clock.now += HOUR
    return result


# ------------------------------------------------------------------ the gap reconcile starts by itself


def test_calendly_retrying_asks_once_for_a_reconcile_of_the_gap_and_again_for_a_new_gap(world: World) -> None:
    # Given a connection whose subscription Calendly has been retrying since 10:00
    world.connect_oauth("acme")
    (subscription,) = world.fake.subscriptions.values()
    subscription["retry_started_at"] = "2027-01-15T10:00:00.000000Z"
    # When the watchdog runs, hourly, three times
    assert hourly(world, runs=3) == {"acme": Health.FAILING}
    # Then exactly one reconcile was requested: from an hour (the template's margin) before the first failure
    (request,) = requests_on_queue(world)
    assert request.connection_id == "acme"
    assert request.since == at("2027-01-15T09:00:00Z")
    assert request.until is None
    assert request.reason == "Calendly retrying deliveries since 2027-01-15T10:00:00Z"
    assert request.requested_at == datetime.fromtimestamp(NOW, UTC)
    # and the connection records what was asked
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.gap_reconcile is not None
    assert registered.gap_reconcile["since"] == "2027-01-15T09:00:00Z"
    assert registered.gap_reconcile["requested_at"] is not None

    # When deliveries recover, then fail again later (a new gap)
    subscription["retry_started_at"] = None
    assert hourly(world) == {"acme": Health.HEALTHY}
    assert requests_on_queue(world) == []
    subscription["retry_started_at"] = "2027-01-16T08:30:00.000000Z"
    assert hourly(world, runs=2) == {"acme": Health.FAILING}
    # Then one more request, for the new gap
    (again,) = requests_on_queue(world)
    assert again.since == at("2027-01-16T07:30:00Z")


@pytest.mark.parametrize(
    ("retry_started_at", "expected_since"),
    [
        ("2027-01-14T10:00:00.000000Z", "2027-01-14T09:00:00Z"),  # retry start, minus the margin
        (None, "2027-01-13T11:00:00Z"),  # disabled at 2027-01-14T12:00 after 24 h of retries, minus the margin
    ],
)
def test_a_disabled_subscription_is_recreated_and_the_gap_since_its_first_failure_reconciled(
    world: World, retry_started_at: str | None, expected_since: str
) -> None:
    # Given a subscription Calendly disabled (after retrying since retry_started_at, if it says)
    world.connect_oauth("acme")
    (subscription,) = world.fake.subscriptions.values()
    subscription.update(state="disabled", retry_started_at=retry_started_at, updated_at="2027-01-14T12:00:00.000000Z")
    # When the watchdog runs twice
    assert hourly(world) == {"acme": Health.RECREATED}
    assert hourly(world) == {"acme": Health.HEALTHY}
    # Then one reconcile was requested, saying why, from the first failed delivery minus the margin
    (request,) = requests_on_queue(world)
    assert request.since == at(expected_since)
    assert request.reason.startswith("subscription re-created (was disabled;")


def test_a_retrying_subscription_later_disabled_asks_again(world: World) -> None:
    # Given a gap already requested while Calendly retried
    world.connect_oauth("acme")
    (subscription,) = world.fake.subscriptions.values()
    subscription["retry_started_at"] = "2027-01-14T10:00:00.000000Z"
    hourly(world)
    assert len(requests_on_queue(world)) == 1
    # When Calendly gives up and disables it (deliveries kept failing after that request)
    subscription["state"] = "disabled"
    assert hourly(world) == {"acme": Health.RECREATED}
    # Then the re-creation asks for the same gap again, for its own reason
    (request,) = requests_on_queue(world)
    assert request.since == at("2027-01-14T09:00:00Z")
    assert "re-created (was disabled" in request.reason


def test_a_missing_subscription_is_reconciled_from_when_it_was_last_seen_healthy(world: World) -> None:
    # Given a subscription the watchdog saw healthy, then someone deleted
    world.connect_oauth("acme")
    assert hourly(world) == {"acme": Health.HEALTHY}
    seen_healthy = datetime.fromtimestamp(NOW, UTC)
    world.clock.now += 5 * HOUR
    world.fake.subscriptions.clear()
    # When the watchdog runs
    assert hourly(world) == {"acme": Health.RECREATED}
    # Then it re-creates it and asks for a reconcile from the last healthy check, minus the margin
    (request,) = requests_on_queue(world)
    assert request.since == seen_healthy - timedelta(hours=1)
    assert request.reason.startswith("subscription re-created (was missing;")


def test_a_missing_subscription_never_seen_healthy_goes_back_at_most_a_week(world: World) -> None:
    # Given a connection made long ago, whose subscription the watchdog never saw (no record of health)
    world.connect_oauth("acme")
    world.clock.now += 30 * 24 * HOUR
    world.fake.subscriptions.clear()
    # When the watchdog re-creates it
    assert hourly(world) == {"acme": Health.RECREATED}
    # Then the gap reconcile starts a week (and the margin) back, not at the connection's creation
    (request,) = requests_on_queue(world)
    assert request.since == datetime.fromtimestamp(NOW + 30 * 24 * HOUR, UTC) - timedelta(days=7, hours=1)


def test_a_request_that_cannot_be_sent_is_recorded_and_sent_on_the_next_run(world: World) -> None:
    # Given two retrying connections, and a reconcile-requests queue that refuses messages this hour
    world.connect_oauth("acme")
    world.connect_oauth("beta")
    for subscription in world.fake.subscriptions.values():
        subscription["retry_started_at"] = "2027-01-15T10:00:00.000000Z"
    broken = watchdog(world)
    broken.reconcile = type(broken.reconcile)(world.stack.queue_urls["ReconcileRequestsQueue"] + "-gone")
    # When the watchdog runs
    assert hourly(world, dog=broken) == {"acme": Health.FAILING, "beta": Health.FAILING}
    # Then nothing was sent, each connection records the failure, and the run checked both
    assert requests_on_queue(world) == []
    for connection_id in ("acme", "beta"):
        registered = world.registry.get(connection_id)
        assert registered is not None
        assert registered.last_check_error is not None
        assert registered.last_check_error["reason"] == "reconcile_request_failed"
        assert registered.gap_reconcile is not None
        assert registered.gap_reconcile["requested_at"] is None
    # and `calsync connections` says so
    assert _notes(registered)[-1] == (
        "gap reconcile from 2027-01-15T09:00:00Z not sent yet (the next run sends it): "
        "Calendly retrying deliveries since 2027-01-15T10:00:00Z"
    )
    # When the queue works again, the next run sends each request once (and only once)
    hourly(world, runs=2)
    assert sorted(r.connection_id for r in requests_on_queue(world)) == ["acme", "beta"]


def test_a_failing_queue_does_not_undo_the_recreation(world: World) -> None:
    # Given a missing subscription and a queue that refuses messages
    world.connect_oauth("acme")
    world.fake.subscriptions.clear()
    broken = watchdog(world)
    broken.reconcile = type(broken.reconcile)(world.stack.queue_urls["ReconcileRequestsQueue"] + "-gone")
    # When the watchdog runs, then runs again with the queue back
    assert hourly(world, dog=broken) == {"acme": Health.RECREATED}
    assert len(world.fake.subscriptions) == 1
    assert hourly(world) == {"acme": Health.HEALTHY}
    # Then the gap noticed at the re-creation is still requested
    (request,) = requests_on_queue(world)
    assert request.reason.startswith("subscription re-created (was missing;")


# ------------------------------------------------------------------ new before old


def calls_since(fake: FakeCalendly, start: int) -> list[tuple[str, str]]:
    return [(method, path.split("/")[1]) for method, path in fake.calls[start:] if method in ("POST", "DELETE")]


def test_the_watchdog_replaces_a_disabled_subscription_new_before_old(world: World) -> None:
    # Given a disabled subscription
    connection = world.connect_oauth("acme")
    (old_uri,) = world.fake.subscriptions
    world.fake.subscriptions[old_uri]["state"] = "disabled"
    calls, counts = len(world.fake.calls), len(world.fake.subscription_counts)
    # When the watchdog replaces it
    assert hourly(world) == {"acme": Health.RECREATED}
    # Then it created the new one before deleting the old, so one existed at every moment
    assert calls_since(world.fake, calls) == [("POST", "webhook_subscriptions"), ("DELETE", "webhook_subscriptions")]
    assert world.fake.subscription_counts[counts:] == [2, 1]
    (new,) = world.fake.subscriptions.values()
    # at a distinct URL (the old one still held the first), that reaches the same connection
    assert new["callback_url"] == f"{connection.callback_url}?subscription=2"
    # and the watchdog recognises it as ours from then on, and replaces it in turn
    assert hourly(world) == {"acme": Health.HEALTHY}
    new["state"] = "disabled"
    assert hourly(world) == {"acme": Health.RECREATED}
    (newest,) = world.fake.subscriptions.values()
    assert newest["callback_url"] == connection.callback_url
    assert min(world.fake.subscription_counts[counts:]) >= 1


def failing_creates(fake: FakeCalendly) -> Any:
    """The fake, except that a subscription it would create fails with 503 (Calendly down after
    its checks: a URL still taken is 409 as ever)."""
    handler = fake.httpx_handler

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/webhook_subscriptions":
            url = json.loads(request.content)["url"]
            if all(s["callback_url"] != url for s in fake.subscriptions.values()):
                return httpx.Response(503, json={"title": "Service Unavailable", "message": "try again later"})
        return handler(request)

    return answer


def test_a_failed_create_keeps_the_old_subscription(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a disabled subscription, and Calendly failing to create subscriptions
    world.connect_oauth("acme")
    (old_uri,) = world.fake.subscriptions
    world.fake.subscriptions[old_uri]["state"] = "disabled"
    monkeypatch.setattr(world.fake, "httpx_handler", failing_creates(world.fake))
    # When the watchdog tries to replace it
    assert hourly(world) == {"acme": Health.ERROR}
    # Then the old one was not deleted, and the failure is on the connection
    assert list(world.fake.subscriptions) == [old_uri]
    assert not [call for call in world.fake.calls if call[0] == "DELETE"]
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.last_check_error is not None
    assert registered.subscription_uri == old_uri


def test_a_failed_delete_of_the_old_still_records_the_replacement_and_its_gap(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a disabled subscription, and Calendly failing to delete subscriptions this hour
    world.connect_oauth("acme")
    (old_uri,) = world.fake.subscriptions
    world.fake.subscriptions[old_uri]["state"] = "disabled"
    handler = world.fake.httpx_handler

    def failing_deletes(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(503, json={"title": "Service Unavailable", "message": "try again later"})
        return handler(request)

    with monkeypatch.context() as patch:
        patch.setattr(world.fake, "httpx_handler", failing_deletes)
        # When the watchdog replaces it
        assert hourly(world) == {"acme": Health.RECREATED}
    # Then the new one is recorded and the gap requested, though the old one is still there
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.subscription_uri != old_uri
    assert len(requests_on_queue(world)) == 1
    assert old_uri in world.fake.subscriptions
    # And the next run deletes the disabled leftover, healthy, asking nothing more
    assert hourly(world) == {"acme": Health.HEALTHY}
    assert list(world.fake.subscriptions) == [registered.subscription_uri]
    assert requests_on_queue(world) == []


def test_reconnecting_a_personal_token_replaces_its_subscription_new_before_old(world: World) -> None:
    # Given a PAT connection (its subscription signs with calsync's own key)
    pat = world.fake.add_pat()
    world.connector().connect_pat(
        connection_id="solo", personal_access_token=pat, calendly_for=world.calendly, api_base=API_BASE
    )
    (old_uri,) = world.fake.subscriptions
    calls, counts = len(world.fake.calls), len(world.fake.subscription_counts)
    # When it is connected again (a new signing key: the subscription must be replaced)
    connection = world.connector().connect_pat(
        connection_id="solo", personal_access_token=pat, calendly_for=world.calendly, api_base=API_BASE
    )
    # Then the new subscription was created before the old was deleted
    assert calls_since(world.fake, calls) == [("POST", "webhook_subscriptions"), ("DELETE", "webhook_subscriptions")]
    assert world.fake.subscription_counts[counts:] == [2, 1]
    (new_uri,) = world.fake.subscriptions
    assert new_uri != old_uri
    assert connection.subscription_uri == new_uri


def test_a_reconnect_whose_create_fails_keeps_the_old_subscription(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pat = world.fake.add_pat()
    world.connector().connect_pat(
        connection_id="solo", personal_access_token=pat, calendly_for=world.calendly, api_base=API_BASE
    )
    (old_uri,) = world.fake.subscriptions
    monkeypatch.setattr(world.fake, "httpx_handler", failing_creates(world.fake))
    with pytest.raises(ConnectError):
        world.connector().connect_pat(
            connection_id="solo", personal_access_token=pat, calendly_for=world.calendly, api_base=API_BASE
        )
    assert list(world.fake.subscriptions) == [old_uri]


def test_deliveries_doubled_during_the_overlap_are_stored_once(pipeline: Pipeline) -> None:
    # Given one booking delivered through the old subscription
    body = event_body("invitee_created.json")
    assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    stored = pipeline.items()
    # When the new subscription (its URL carries ?subscription=2) delivers the same booking too
    event = signed_api_gateway_event(body, KEY, connection_id="acme")
    event["queryStringParameters"] = {"subscription": "2"}
    event["multiValueQueryStringParameters"] = {"subscription": ["2"]}
    assert pipeline.invoke_receiver(event)["statusCode"] == 202
    pipeline.drain()
    # Then it reached the same connection and changed nothing
    assert pipeline.items() == stored
    assert pipeline.total_depth() == 0


# ------------------------------------------------------------------ scopes


def test_an_oauth_token_without_a_needed_scope_is_refused_naming_each_missing_one(world: World) -> None:
    # Given an OAuth app granted only some of the scopes calsync needs
    world.fake.scopes = "users:read webhooks:read"
    # When an organization connects
    with pytest.raises(ConnectError) as refused:
        world.connect_oauth("acme")
    # Then connect refuses, naming every missing scope it cannot work without, and subscribes nothing
    assert refused.value.status == 403
    assert refused.value.reason == "missing_scopes"
    assert "needs: scheduled_events:read, webhooks:write" in str(refused.value)
    assert not any(token in str(refused.value) for token in world.fake.access_tokens)
    assert world.fake.subscriptions == {}
    assert world.registry.get("acme") is None


@pytest.mark.parametrize("scopes", [None, "default", "scheduled_events:write routing_forms:read webhooks:write"])
def test_tokens_without_scopes_or_with_every_needed_one_connect(world: World, scopes: str | None) -> None:
    # Given a token made before scopes existed (none, or "default"), or one whose :write covers :read
    world.fake.scopes = scopes
    # Then connect succeeds
    assert world.connect_oauth("acme").status == "active"


def test_a_personal_token_without_a_readable_scope_is_refused_naming_it(world: World) -> None:
    # Given a personal access token that cannot read scheduled events nor webhooks
    pat = world.fake.add_pat(scopes="users:read routing_forms:read")
    # When it is connected
    with pytest.raises(ConnectError) as refused:
        world.connector().connect_pat(
            connection_id="solo", personal_access_token=pat, calendly_for=world.calendly, api_base=API_BASE
        )
    # Then connect refuses, naming both, and no secret appears
    assert refused.value.reason == "missing_scopes"
    assert "scheduled_events:read, webhooks:write" in str(refused.value)
    assert pat not in str(refused.value)
    assert world.fake.subscriptions == {}
