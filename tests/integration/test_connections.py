"""Connections against moto (DynamoDB, Secrets Manager) and a stateful fake Calendly over
httpx: connect (OAuth and PAT), token refresh with its races and failures, the watchdog."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest

from calsync import compose
from calsync.calendly.client import CalendlyClient
from calsync.calendly.oauth import OAuthClient
from calsync.compose import Connections
from calsync.config import ConnectionSettings, WatchdogSettings
from calsync.connections.aws_registry import DynamoConnectionRegistry
from calsync.connections.aws_tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore
from calsync.connections.connect import ConnectError, Connector, start_oauth
from calsync.connections.records import Connection, OAuthApp, StoredToken
from calsync.connections.refresh import Outcome, Refresher
from calsync.connections.watchdog import Health, Watchdog
from calsync.errors import DependencyUnavailable
from calsync.intake.aws_signing_keys import SecretsManagerSigningKeys
from calsync_dev.fake_calendly import API, FakeCalendly
from calsync_dev.provision import Stack

API_BASE = "https://hooks.example.com/dev"
APP_SIGNING_KEY = "app-webhook-signing-key-0123456789"
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@dataclass
class World:
    """The connection services as the functions and the CLI get them (``compose.connections``),
    talking to a fake Calendly."""

    stack: Stack
    fake: FakeCalendly
    clock: Clock
    services: Connections

    @property
    def registry(self) -> DynamoConnectionRegistry:
        return self.services.registry

    @property
    def tokens(self) -> SecretsManagerTokenStore:
        return self.services.tokens

    @property
    def signing_keys(self) -> SecretsManagerSigningKeys:
        return self.services.signing_keys

    @property
    def app(self) -> SecretsManagerOAuthApp:
        return self.services.oauth_app

    def calendly(self, token: str) -> CalendlyClient:
        return self.services.calendly_with_token(token)

    def calendly_for(self, connection: Connection) -> CalendlyClient:
        return self.services.calendly_for(connection)

    def oauth(self) -> OAuthClient:
        return self.services.oauth_client()

    def connector(self) -> Connector:
        return self.services.connector(self.clock)

    def refresher(self, owner: str = "run-1", **kwargs: Any) -> Refresher:
        return Refresher(
            self.registry, self.tokens, self.oauth(), owner=owner, clock=self.clock, sleep=lambda _: None, **kwargs
        )

    def connect_oauth(self, connection_id: str = "acme") -> Connection:
        url = start_oauth(
            self.registry,
            self.app,
            connection_id=connection_id,
            redirect_uri=f"{API_BASE}/oauth/callback",
            now=self.clock(),
        )
        state = parse_qs(urlsplit(url).query)["state"][0]
        return self.connector().complete_oauth(
            state=state,
            code=self.fake.issue_code(),
            token_endpoint=self.oauth(),
            app=self.app,
            calendly_for=self.calendly,
            api_base=API_BASE,
        )


@pytest.fixture
def world(stack: Stack) -> World:
    return make_world(stack)


def make_world(stack: Stack) -> World:
    env = stack.functions["TokenRefresherFunction"].environment
    fake = FakeCalendly(clock=Clock())
    clock = fake.clock
    assert isinstance(clock, Clock)
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(
        SecretId=env["OAUTH_APP_SECRET_NAME"],
        SecretString=json.dumps(
            {"client_id": fake.client_id, "client_secret": fake.client_secret, "webhook_signing_key": APP_SIGNING_KEY}
        ),
    )
    # Late-bound: tests swap fake.httpx_handler to inject failures.
    options = {"transport": httpx.MockTransport(lambda request: fake.httpx_handler(request)), "sleep": lambda _: None}
    services = compose.connections(ConnectionSettings.from_env(env), calendly_options=options)
    return World(stack, fake, clock, services)


# ------------------------------------------------------------------ OAuth connect


def test_start_oauth_records_a_single_use_state_and_prints_a_pkce_authorize_url(world: World) -> None:
    url = start_oauth(
        world.registry, world.app, connection_id="acme", redirect_uri=f"{API_BASE}/oauth/callback", now=NOW
    )
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://auth.calendly.com/oauth/authorize?")
    assert query["client_id"] == [world.fake.client_id]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [f"{API_BASE}/oauth/callback"]
    pending = world.registry.take_pending(query["state"][0], now=int(NOW))
    assert pending is not None
    assert pending.connection_id == "acme"
    assert world.registry.take_pending(query["state"][0], now=int(NOW)) is None  # single use


def test_the_callback_stores_the_token_subscribes_and_registers_the_connection(world: World) -> None:
    # When the operator completes the Calendly consent screen
    connection = world.connect_oauth("acme")
    # Then the token is in its own secret
    stored = world.tokens.get("acme")
    assert stored.kind == "oauth"
    assert stored.access_token in world.fake.access_tokens
    assert stored.refresh_token is not None
    # And the receiver's secret holds the app's signing key
    assert world.signing_keys.keys_for("acme") == (APP_SIGNING_KEY.encode(),)
    # And an organization-scoped subscription points at this connection's webhook URL
    (subscription,) = world.fake.subscriptions.values()
    assert subscription["callback_url"] == f"{API_BASE}/webhooks/calendly/acme"
    assert subscription["scope"] == "organization"
    assert set(subscription["events"]) >= {"invitee.created", "invitee.canceled", "routing_form_submission.created"}
    # And the registry holds references, never the secrets
    registered = world.registry.get("acme")
    assert registered == connection
    assert registered is not None
    assert registered.status == "active"
    assert registered.subscription_uri == subscription["uri"]
    assert registered.token_secret == world.tokens.secret_name("acme")
    assert stored.access_token not in json.dumps(boto3.client("dynamodb").scan(TableName=world.registry.table_name))


@pytest.mark.parametrize("problem", ["reused", "expired", "unknown"])
def test_a_bad_state_is_refused_and_nothing_is_stored(world: World, problem: str) -> None:
    url = start_oauth(
        world.registry, world.app, connection_id="acme", redirect_uri=f"{API_BASE}/oauth/callback", now=NOW
    )
    state = parse_qs(urlsplit(url).query)["state"][0]
    if problem == "reused":
        assert world.registry.take_pending(state, now=int(NOW)) is not None
    if problem == "expired":
        world.clock.now = NOW + 601
    if problem == "unknown":
        state = "made-up-state"
    with pytest.raises(ConnectError) as refused:
        world.connector().complete_oauth(
            state=state,
            code=world.fake.issue_code(),
            token_endpoint=world.oauth(),
            app=world.app,
            calendly_for=world.calendly,
            api_base=API_BASE,
        )
    assert (refused.value.status, refused.value.reason) == (400, "invalid_state")
    assert world.registry.get("acme") is None
    assert world.fake.subscriptions == {}


def test_a_calendly_error_on_the_code_exchange_stores_nothing(world: World) -> None:
    url = start_oauth(
        world.registry, world.app, connection_id="acme", redirect_uri=f"{API_BASE}/oauth/callback", now=NOW
    )
    state = parse_qs(urlsplit(url).query)["state"][0]
    with pytest.raises(ConnectError) as refused:
        world.connector().complete_oauth(
            state=state,
            code="not-a-code-calendly-issued",
            token_endpoint=world.oauth(),
            app=world.app,
            calendly_for=world.calendly,
            api_base=API_BASE,
        )
    assert refused.value.status == 502
    assert world.registry.get("acme") is None
    assert world.signing_keys.keys_for("acme") is None


def test_a_first_connect_that_fails_to_register_is_finished_by_connecting_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given registering fails (DynamoDB trouble) after the subscription and the token were stored
    def broken(*_: Any, **__: Any) -> None:
        raise DependencyUnavailable("dynamodb:PutItem (connection) failed: ProvisionedThroughputExceededException")

    with monkeypatch.context() as patch:
        patch.setattr(world.registry, "register", broken)
        with pytest.raises(DependencyUnavailable):
            world.connect_oauth("acme")
    # Then no connection is registered (the scheduled jobs do not see it)
    assert world.registry.get("acme") is None
    # And the receiver keeps accepting what the live subscription delivers (nothing accepted is lost)
    world.signing_keys.invalidate("acme")
    assert world.signing_keys.keys_for("acme") == (APP_SIGNING_KEY.encode(),)
    # When the operator connects again, Then it is connected, with the one subscription
    connection = world.connect_oauth("acme")
    assert world.registry.get("acme") == connection
    assert len(world.fake.subscriptions) == 1


def test_a_personal_access_token_gets_a_generated_signing_key_sent_with_the_subscription(world: World) -> None:
    pat = world.fake.add_pat()
    connection = world.connector().connect_pat(
        connection_id="solo", personal_access_token=pat, calendly_for=world.calendly, api_base=API_BASE
    )
    (uri,) = world.fake.subscriptions
    keys = world.signing_keys.keys_for("solo")
    assert keys is not None
    assert len(keys[0]) >= 32
    assert world.fake.signing_keys[uri] == keys[0].decode()  # Calendly signs with what we store
    assert connection.kind == "pat"
    assert world.tokens.get("solo").access_token == pat


def test_connecting_twice_reuses_the_existing_subscription_after_a_409(world: World) -> None:
    world.connect_oauth("acme")
    world.connect_oauth("acme")
    assert len(world.fake.subscriptions) == 1


# ------------------------------------------------------------------ token refresh


def expire_soon(world: World, connection_id: str = "acme") -> None:
    world.clock.now += 7200 - 30 * 60  # 30 minutes left: under the 45-minute threshold


def test_a_token_with_time_left_is_not_refreshed(world: World) -> None:
    world.connect_oauth("acme")
    assert world.refresher().run() == {"acme": Outcome.FRESH}
    assert world.fake.refresh_uses == {}


def test_a_token_near_expiry_is_refreshed_and_the_new_one_stored_first(world: World) -> None:
    world.connect_oauth("acme")
    before = world.tokens.get("acme")
    expire_soon(world)
    assert world.refresher().run() == {"acme": Outcome.REFRESHED}
    after = world.tokens.get("acme")
    assert after.refresh_token != before.refresh_token
    assert after.access_token in world.fake.access_tokens
    assert world.fake.refresh_uses == {before.refresh_token: 1}
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.token_expires_at == after.expires_at


def test_two_refreshers_racing_use_the_refresh_token_once(world: World) -> None:
    world.connect_oauth("acme")
    original = world.tokens.get("acme").refresh_token
    expire_soon(world)
    # Given refresher B starts while A is mid-exchange (inside Calendly's token call)
    results: dict[str, Any] = {}
    handler = world.fake.httpx_handler

    def exchange_while_b_runs(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token" and "b" not in results:
            b = threading.Thread(target=lambda: results.setdefault("b", world.refresher("run-B").run()))
            b.start()
            b.join()
        return handler(request)

    world.fake.httpx_handler = exchange_while_b_runs  # type: ignore[method-assign]
    results["a"] = world.refresher("run-A").run()
    world.fake.httpx_handler = handler  # type: ignore[method-assign]
    # Then B saw the lease and stood back; A refreshed
    assert results == {"b": {"acme": Outcome.LEASED}, "a": {"acme": Outcome.REFRESHED}}
    # And a third run right after finds a fresh token: the old refresh token was used once
    assert world.refresher("run-C").run() == {"acme": Outcome.FRESH}
    assert world.fake.refresh_uses == {original: 1}


class FlakyTokens(SecretsManagerTokenStore):
    def __init__(self, inner: SecretsManagerTokenStore, failures: int) -> None:
        super().__init__(inner.secret_name(""))
        self.failures = failures
        self.attempts = 0

    def put(self, connection_id: str, token: StoredToken) -> str:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise DependencyUnavailable("secretsmanager:PutSecretValue (token) failed: InternalServiceError")
        return super().put(connection_id, token)


def test_a_failed_secret_write_is_retried_and_the_new_token_lands(world: World) -> None:
    world.connect_oauth("acme")
    expire_soon(world)
    flaky = FlakyTokens(world.tokens, failures=2)
    refresher = Refresher(world.registry, flaky, world.oauth(), owner="r", clock=world.clock, sleep=lambda _: None)
    assert refresher.run() == {"acme": Outcome.REFRESHED}
    assert flaky.attempts == 3
    stored = world.tokens.get("acme")
    assert world.fake.refresh_tokens[stored.refresh_token or ""] is True  # the stored one is the live one


def test_a_secret_write_that_keeps_failing_is_loud_and_holds_the_lease(world: World) -> None:
    world.connect_oauth("acme")
    expire_soon(world)
    reports: list[tuple[str, str]] = []
    flaky = FlakyTokens(world.tokens, failures=99)
    refresher = Refresher(
        world.registry,
        flaky,
        world.oauth(),
        owner="r",
        clock=world.clock,
        sleep=lambda _: None,
        report=lambda outcome, connection, detail: reports.append((outcome, connection.connection_id)),
    )
    assert refresher.run() == {"acme": Outcome.WRITE_FAILED}
    assert reports == [(Outcome.WRITE_FAILED, "acme")]
    registered = world.registry.get("acme")
    assert registered is not None
    assert (registered.status, registered.status_reason) == ("reauth_required", "token_write_failed")
    # and no other refresher may touch the (now spent) old token
    assert not world.registry.acquire_lease("acme", owner="other", now=int(world.clock()), seconds=60)


def test_a_reused_refresh_token_marks_the_connection_reauth_required_not_a_loop(world: World) -> None:
    world.connect_oauth("acme")
    stale = world.tokens.get("acme")
    expire_soon(world)
    # Given the refresh token was used elsewhere (Calendly revoked it)
    assert world.fake.refresh_tokens.pop(stale.refresh_token or "")
    # When the refresher runs, again and again
    first = world.refresher().run()
    second = world.refresher().run()
    # Then the connection needs re-authorization and Calendly was asked once
    assert (first, second) == ({"acme": Outcome.REAUTH_REQUIRED}, {"acme": Outcome.SKIPPED})
    assert world.fake.refresh_uses == {stale.refresh_token: 1}
    registered = world.registry.get("acme")
    assert registered is not None
    assert (registered.status, registered.status_reason) == ("reauth_required", "invalid_grant")


def test_api_users_cache_the_token_and_refetch_once_on_401(world: World) -> None:
    connection = world.connect_oauth("acme")
    client = world.calendly_for(connection)
    assert client.get_current_user().current_organization == world.fake.organization
    # Given the token was refreshed elsewhere and the cached one revoked
    expire_soon(world)
    world.refresher().run()
    old = [t for t in world.fake.access_tokens if t != world.tokens.get("acme").access_token]
    for token in old:
        world.fake.access_tokens[token] = 0
    calls = len(world.fake.calls)
    # When the client is used again, it refetches the token once and succeeds
    assert client.get_current_user().uri == world.fake.user
    assert world.fake.calls[calls:] == [("GET", "/users/me"), ("GET", "/users/me")]


# ------------------------------------------------------------------ watchdog


def watchdog(world: World) -> Watchdog:
    """The watchdog as its function builds it (``WatchdogSettings`` from the template's environment)."""
    settings = WatchdogSettings.from_env(world.stack.functions["SubscriptionWatchdogFunction"].environment)

    def key_for(connection: Connection) -> str | None:
        keys = world.signing_keys.keys_for(connection.connection_id)
        return keys[0].decode() if connection.kind == "pat" and keys else None

    return Watchdog(
        world.registry,
        world.calendly_for,
        key_for,
        reconcile=compose.reconcile_requests(settings),
        gap_margin=timedelta(seconds=settings.gap_margin_seconds),
        clock=world.clock,
    )


def test_a_healthy_subscription_is_left_alone(world: World) -> None:
    world.connect_oauth("acme")
    assert watchdog(world).run() == {"acme": Health.HEALTHY}


def test_a_failing_subscription_is_reported(world: World) -> None:
    world.connect_oauth("acme")
    (subscription,) = world.fake.subscriptions.values()
    subscription["retry_started_at"] = "2027-01-15T10:00:00.000000Z"
    assert watchdog(world).run() == {"acme": Health.FAILING}


@pytest.mark.parametrize("problem", ["disabled", "missing"])
def test_a_disabled_or_missing_subscription_is_recreated_and_recorded(world: World, problem: str) -> None:
    connection = world.connect_oauth("acme")
    (uri,) = world.fake.subscriptions
    if problem == "disabled":
        world.fake.subscriptions[uri]["state"] = "disabled"
        world.fake.subscriptions[uri]["retry_started_at"] = "2027-01-14T10:00:00.000000Z"
    else:
        del world.fake.subscriptions[uri]
    assert watchdog(world).run() == {"acme": Health.RECREATED}
    (new_uri,) = world.fake.subscriptions
    assert new_uri != uri
    assert world.fake.subscriptions[new_uri]["state"] == "active"
    # the new one is made while a disabled old one still holds the URL: it gets the replacement form
    expected_url = f"{connection.callback_url}?subscription=2" if problem == "disabled" else connection.callback_url
    assert world.fake.subscriptions[new_uri]["callback_url"] == expected_url
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.subscription_uri == new_uri
    (record,) = registered.subscription_recreated
    assert record["was"] == problem
    assert record["previous_uri"] == uri
    if problem == "disabled":
        assert record["gap_since"].startswith("2027-01-14T10:00:00")


def test_a_recreated_pat_subscription_keeps_the_stored_signing_key(world: World) -> None:
    world.connector().connect_pat(
        connection_id="solo", personal_access_token=world.fake.add_pat(), calendly_for=world.calendly, api_base=API_BASE
    )
    (uri,) = world.fake.subscriptions
    world.fake.subscriptions[uri]["state"] = "disabled"
    assert watchdog(world).run() == {"solo": Health.RECREATED}
    (new_uri,) = world.fake.subscriptions
    keys = world.signing_keys.keys_for("solo")
    assert keys is not None
    assert world.fake.signing_keys[new_uri] == keys[0].decode()


# ------------------------------------------------------------------ no secret in any log or error


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    from calsync.observability import logger

    buffer = io.StringIO()
    structured = logging.StreamHandler(buffer)
    structured.setFormatter(logger.registered_formatter)  # the JSON lines, extras included
    # every other library's logging at INFO, as deployed (botocore's DEBUG wire dumps are never on)
    plain = logging.StreamHandler(buffer)
    plain.setLevel(logging.INFO)
    root = logging.getLogger()
    previous = (logger.log_level, root.level)
    logger.addHandler(structured)
    root.addHandler(plain)
    logger.setLevel("DEBUG")
    root.setLevel(logging.DEBUG)
    try:
        with redirect_stdout(buffer):
            yield buffer
    finally:
        logger.removeHandler(structured)
        root.removeHandler(plain)
        logger.setLevel(previous[0])
        root.setLevel(previous[1])


def test_no_token_secret_or_signing_key_appears_in_logs_or_errors(world: World, captured_logs: io.StringIO) -> None:
    # Given a full life: connect (OAuth and PAT), refresh, a reused token, a bad callback, the watchdog
    errors: list[str] = []
    connection = world.connect_oauth("acme")
    pat = world.fake.add_pat()
    world.connector().connect_pat(
        connection_id="solo", personal_access_token=pat, calendly_for=world.calendly, api_base=API_BASE
    )
    first = world.tokens.get("acme")
    expire_soon(world)
    world.refresher().run()
    world.fake.refresh_tokens.clear()
    world.clock.now += 7200
    world.refresher().run()
    for bad in ("made-up-state",):
        try:
            world.connector().complete_oauth(
                state=bad,
                code="c",
                token_endpoint=world.oauth(),
                app=world.app,
                calendly_for=world.calendly,
                api_base=API_BASE,
            )
        except ConnectError as exc:
            errors.append(repr(exc) + str(exc))
    try:
        world.oauth().refresh(first.refresh_token or "")
    except Exception as exc:
        errors.append(repr(exc) + str(exc))
    watchdog(world).run()
    world.calendly_for(connection)
    # Then none of the secrets appears anywhere
    text = captured_logs.getvalue() + "\n".join(errors)
    text += repr(world.tokens.get("solo")) + repr(OAuthApp("id", world.fake.client_secret, APP_SIGNING_KEY))
    secrets = [
        pat,
        first.access_token,
        first.refresh_token or "",
        world.fake.client_secret,
        APP_SIGNING_KEY,
        (world.signing_keys.keys_for("solo") or (b"",))[0].decode(),
        *world.fake.access_tokens,
        *world.fake.refresh_tokens,
    ]
    assert captured_logs.getvalue(), "the scenario should have logged something"
    leaked = [s[:6] + "…" for s in secrets if s and s in text]
    assert leaked == []


def test_the_registry_lists_connections_in_one_query(world: World) -> None:
    world.connect_oauth("acme")
    world.connector().connect_pat(
        connection_id="solo", personal_access_token=world.fake.add_pat(), calendly_for=world.calendly, api_base=API_BASE
    )
    assert [c.connection_id for c in world.registry.all()] == ["acme", "solo"]
    assert API in world.fake.organization


def test_a_lease_left_by_a_crashed_refresher_expires_and_the_next_run_refreshes(world: World) -> None:
    from calsync.connections.refresh import LEASE_SECONDS

    world.connect_oauth("acme")
    expire_soon(world)
    # Given a refresher took the lease and died without releasing it
    assert world.registry.acquire_lease("acme", owner="crashed", now=int(world.clock()), seconds=LEASE_SECONDS)
    # Then while the lease lasts, others stand back
    assert world.refresher("run-2").run() == {"acme": Outcome.LEASED}
    # And once it has expired, the next run refreshes
    world.clock.now += LEASE_SECONDS + 1
    assert world.refresher("run-3").run() == {"acme": Outcome.REFRESHED}
