"""The connection Lambdas as deployed: handlers loaded from template.yaml with their
environment, Calendly answered by the fake over httpx (respx), AWS by moto."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import respx

from calsync.connections.aws_registry import DynamoConnectionRegistry
from calsync.connections.aws_tokens import SecretsManagerOAuthApp
from calsync.connections.connect import start_oauth
from calsync.reconcile.requests import ReconcileRequest
from calsync_dev.events import proxy_event
from calsync_dev.fake_calendly import FakeCalendly
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from calsync_dev.provision import Stack
from tests.integration.fanout_runs import run_scheduled

APP_KEY = "app-signing-key-for-functions-test"


@pytest.fixture
def fake(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCalendly]:
    env = stack.functions["OAuthCallbackFunction"].environment
    # the connection functions share these; the watchdog adds where it requests gap reconciles
    for name, value in {**stack.functions["SubscriptionWatchdogFunction"].environment, **env}.items():
        monkeypatch.setenv(name, value)
    with calendly_app(env["OAUTH_APP_SECRET_NAME"]) as fake:
        yield fake


@contextmanager
def calendly_app(secret_name: str) -> Iterator[FakeCalendly]:
    """The fake Calendly answering httpx, its OAuth app's credentials stored in ``secret_name``."""
    fake = FakeCalendly()
    boto3.client("secretsmanager").put_secret_value(
        SecretId=secret_name,
        SecretString=json.dumps(
            {"client_id": fake.client_id, "client_secret": fake.client_secret, "webhook_signing_key": APP_KEY}
        ),
    )
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        router.route(host="auth.calendly.com").mock(side_effect=fake.httpx_handler)
        yield fake


def callback_event(query: dict[str, str], accept: str = "text/html") -> dict[str, Any]:
    event = proxy_event(
        method="GET",
        resource="/oauth/callback",
        path="/oauth/callback",
        path_parameters=None,
        headers={"Host": "abc123.execute-api.us-east-1.amazonaws.com", "Accept": accept},
        query={k: [v] for k, v in query.items()},
        body=b"",
        stage="dev",
    )
    event["requestContext"]["domainName"] = "abc123.execute-api.us-east-1.amazonaws.com"
    return event


def authorize(stack: Stack, connection_id: str = "acme") -> str:
    env = stack.functions["OAuthCallbackFunction"].environment
    url = start_oauth(
        DynamoConnectionRegistry(env["BOOKINGS_TABLE_NAME"]),
        SecretsManagerOAuthApp(env["OAUTH_APP_SECRET_NAME"]),
        connection_id=connection_id,
        redirect_uri="https://abc123.execute-api.us-east-1.amazonaws.com/dev/oauth/callback",
        now=time.time(),
    )
    return parse_qs(urlsplit(url).query)["state"][0]


def test_the_oauth_callback_connects_and_a_replay_gets_a_clear_error_page(stack: Stack, fake: FakeCalendly) -> None:
    handler = load_handler(stack.functions["OAuthCallbackFunction"], apply_environment=False)
    state = authorize(stack)
    # When Calendly redirects the operator back with a code
    done = handler(callback_event({"code": fake.issue_code(), "state": state}), LambdaContext("callback"))
    # Then the page says connected and the subscription points at this API's stage URL
    assert done["statusCode"] == 200
    assert "Connected" in done["body"]
    (subscription,) = fake.subscriptions.values()
    assert (
        subscription["callback_url"] == "https://abc123.execute-api.us-east-1.amazonaws.com/dev/webhooks/calendly/acme"
    )
    # When the same link is used again
    again = handler(
        callback_event({"code": fake.issue_code(), "state": state}, accept="application/json"), LambdaContext("cb")
    )
    # Then it is refused with a reason, as JSON when asked
    assert again["statusCode"] == 400
    assert json.loads(again["body"])["error"] == "invalid_state"


def test_a_denied_consent_is_a_clear_page_not_a_500(stack: Stack, fake: FakeCalendly) -> None:
    handler = load_handler(stack.functions["OAuthCallbackFunction"], apply_environment=False)
    answer = handler(callback_event({"error": "access_denied"}), LambdaContext("callback"))
    assert answer["statusCode"] == 400
    assert "text/html" in answer["headers"]["Content-Type"]


def test_the_scheduled_functions_refresh_and_watch(stack: Stack, fake: FakeCalendly) -> None:
    callback = load_handler(stack.functions["OAuthCallbackFunction"], apply_environment=False)
    assert (
        callback(callback_event({"code": fake.issue_code(), "state": authorize(stack)}), LambdaContext("cb"))[
            "statusCode"
        ]
        == 200
    )
    refresher = load_handler(stack.functions["TokenRefresherFunction"], apply_environment=False)
    watchdog = load_handler(stack.functions["SubscriptionWatchdogFunction"], apply_environment=False)
    # A token just issued has two hours left: the refresher's dispatch sends no unit for it
    dispatch, refreshed = run_scheduled(
        stack, "TokenRefresherFunction", refresher, LambdaContext("refresher", timeout_seconds=300)
    )
    assert (dispatch["listed"], dispatch["sent"], refreshed) == (1, 0, {})
    # The subscription Calendly disabled gets re-created (one unit, worked from the watchdog's queue)
    (subscription,) = fake.subscriptions.values()
    subscription["state"] = "disabled"
    context = LambdaContext("watchdog", timeout_seconds=120)
    assert run_scheduled(stack, "SubscriptionWatchdogFunction", watchdog, context)[1] == {"acme": "recreated"}
    assert run_scheduled(stack, "SubscriptionWatchdogFunction", watchdog, context)[1] == {"acme": "healthy"}
    # and one reconcile of the gap waits on the queue the template names
    queue = stack.functions["SubscriptionWatchdogFunction"].environment["RECONCILE_REQUESTS_QUEUE_URL"]
    (message,) = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert ReconcileRequest.from_message_body(message["Body"]).connection_id == "acme"


def test_the_refresher_reads_the_oauth_app_secret_only_when_a_refresh_is_due(stack: Stack, fake: FakeCalendly) -> None:
    # Given an OAuth connection with a fresh token, and an app secret that cannot be read
    callback = load_handler(stack.functions["OAuthCallbackFunction"], apply_environment=False)
    assert (
        callback(callback_event({"code": fake.issue_code(), "state": authorize(stack)}), LambdaContext("cb"))[
            "statusCode"
        ]
        == 200
    )
    env = stack.functions["TokenRefresherFunction"].environment
    boto3.client("secretsmanager").delete_secret(SecretId=env["OAUTH_APP_SECRET_NAME"], ForceDeleteWithoutRecovery=True)
    # When the scheduled run finds nothing due, it succeeds without it
    refresher = load_handler(stack.functions["TokenRefresherFunction"], apply_environment=False)
    context = LambdaContext("refresher", timeout_seconds=300)
    assert run_scheduled(stack, "TokenRefresherFunction", refresher, context)[1] == {}


def test_one_broken_connection_is_counted_and_the_scheduled_functions_go_on(
    stack: Stack, fake: FakeCalendly, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two connections (their tokens due for a refresh), the first with a token secret someone
    # overwrote with garbage
    fake.token_lifetime = 60
    callback = load_handler(stack.functions["OAuthCallbackFunction"], apply_environment=False)
    for cid in ("acme", "beta"):
        event = callback_event({"code": fake.issue_code(), "state": authorize(stack, cid)})
        assert callback(event, LambdaContext("cb"))["statusCode"] == 200
    env = stack.functions["TokenRefresherFunction"].environment
    boto3.client("secretsmanager").put_secret_value(
        SecretId=f"{env['TOKEN_SECRET_PREFIX']}acme", SecretString="not json"
    )
    capsys.readouterr()
    # When the scheduled functions run
    refresher = load_handler(stack.functions["TokenRefresherFunction"], apply_environment=False)
    watchdog = load_handler(stack.functions["SubscriptionWatchdogFunction"], apply_environment=False)
    _, refreshed = run_scheduled(stack, "TokenRefresherFunction", refresher, LambdaContext("r", timeout_seconds=300))
    _, watched = run_scheduled(stack, "SubscriptionWatchdogFunction", watchdog, LambdaContext("w", timeout_seconds=120))
    # Then the healthy connection is handled, the broken one failed alone (its unit retried, then dead-lettered)
    assert refreshed == {"acme": "error", "beta": "refreshed"}
    assert watched == {"acme": "error", "beta": "healthy"}
    dlq = stack.queue_urls["RefreshWorkDLQ"]
    (dead,) = boto3.client("sqs").receive_message(QueueUrl=dlq, MaxNumberOfMessages=10)["Messages"]
    assert '"connection_id":"acme"' in dead["Body"]
    # And each failure was counted under the metric names the alarms use
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    counted = {
        name for blob in emitted for name in blob if name in ("TokenRefreshFailures", "SubscriptionChecksFailed")
    }
    assert counted == {"TokenRefreshFailures", "SubscriptionChecksFailed"}
    # And recorded on the connection
    registered = DynamoConnectionRegistry(env["BOOKINGS_TABLE_NAME"]).get("acme")
    assert registered is not None
    assert registered.last_refresh_error is not None
    assert registered.last_refresh_error["reason"] == "token_unreadable"
    assert registered.last_check_error is not None
    assert registered.last_check_error["reason"] == "token_unreadable"


def test_every_call_the_connection_functions_make_is_granted_by_their_own_policies(
    stack: Stack, fake: FakeCalendly
) -> None:
    from tests.iam import Calls, not_granted, recorded_calls

    handlers = {
        name: load_handler(stack.functions[name], apply_environment=False)
        for name in ("OAuthCallbackFunction", "TokenRefresherFunction", "SubscriptionWatchdogFunction")
    }
    calls: dict[str, Calls] = {}
    # Given an operator connecting through the OAuth callback (tokens issued with 60 s left)
    fake.token_lifetime = 60
    state = authorize(stack)
    with recorded_calls() as calls["OAuthCallbackFunction"]:
        event = callback_event({"code": fake.issue_code(), "state": state})
        assert handlers["OAuthCallbackFunction"](event, LambdaContext("cb"))["statusCode"] == 200
    # And a refresh that is due, and a disabled subscription replaced
    with recorded_calls() as calls["TokenRefresherFunction"]:
        refresher = handlers["TokenRefresherFunction"]
        context = LambdaContext("refresher", timeout_seconds=300)
        assert run_scheduled(stack, "TokenRefresherFunction", refresher, context)[1] == {"acme": "refreshed"}
    (subscription,) = fake.subscriptions.values()
    subscription["state"] = "disabled"
    with recorded_calls() as calls["SubscriptionWatchdogFunction"]:
        watchdog, context = handlers["SubscriptionWatchdogFunction"], LambdaContext("w", timeout_seconds=120)
        assert run_scheduled(stack, "SubscriptionWatchdogFunction", watchdog, context)[1] == {"acme": "recreated"}
    # Then each function was granted every action it called (in AWS anything else is AccessDenied)
    assert all(calls.values())
    assert {name: not_granted(name, called) for name, called in calls.items()} == {name: [] for name in calls}


def test_the_watchdogs_requests_for_a_personal_token_connection_are_granted_by_its_own_policy(
    stack: Stack, fake: FakeCalendly
) -> None:
    from calsync import compose
    from calsync.config import WatchdogSettings
    from tests.iam import not_granted, recorded_calls

    # Given a personal-access-token connection (its subscription signs with calsync's own key), disabled
    env = stack.functions["SubscriptionWatchdogFunction"].environment
    services = compose.connections(WatchdogSettings.from_env(env))
    services.connector().connect_pat(
        connection_id="solo",
        personal_access_token=fake.add_pat(),
        calendly_for=services.calendly_with_token,
        api_base="https://api.calendly.com",
    )
    (subscription,) = fake.subscriptions.values()
    subscription["state"] = "disabled"
    # When the watchdog replaces it (reading the connection's signing key to sign the new one)
    handler = load_handler(stack.functions["SubscriptionWatchdogFunction"], apply_environment=False)
    with recorded_calls() as calls:
        context = LambdaContext("w", timeout_seconds=120)
        assert run_scheduled(stack, "SubscriptionWatchdogFunction", handler, context)[1] == {"solo": "recreated"}
    # Then its role allows every request it made (the key by its name under the stage's prefix)
    keys = stack.functions["SubscriptionWatchdogFunction"].environment["SIGNING_KEY_PREFIX"]
    assert any(c.params.get("SecretId") == f"{keys}solo" for c in calls)
    assert not_granted("SubscriptionWatchdogFunction", calls) == []
