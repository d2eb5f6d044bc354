"""Connections when things go wrong (issue 9): a failed re-connect, one bad connection among
many, a refresh racing a re-connect, lost or unreadable token answers, an incomplete OAuth
app secret, re-stored tokens, and what a pending authorization keeps."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import httpx
import pytest

from calsync.connections.connect import ConnectError, start_oauth
from calsync.connections.records import Connection, StoredToken
from calsync.connections.refresh import LEASE_SECONDS, REFRESH_WORST_CASE_SECONDS, Outcome
from calsync.connections.watchdog import Health
from calsync.errors import DependencyUnavailable
from calsync_dev.cli.connections import _notes
from calsync_dev.provision import Stack
from tests.integration.test_connections import API_BASE, APP_SIGNING_KEY, NOW, World, expire_soon, make_world, watchdog

TOKEN_PATH = "/oauth/token"
SUBSCRIPTIONS = "/webhook_subscriptions"


@pytest.fixture
def world(stack: Stack) -> World:
    return make_world(stack)


def connect(world: World, kind: str, connection_id: str) -> Connection:
    return world.connect_oauth(connection_id) if kind == "oauth" else connect_pat(world, connection_id)


def connect_pat(world: World, connection_id: str = "solo", pat: str | None = None) -> Connection:
    return world.connector().connect_pat(
        connection_id=connection_id,
        personal_access_token=pat or world.fake.add_pat(),
        calendly_for=world.calendly,
        api_base=API_BASE,
    )


def snapshot(world: World, connection_id: str) -> tuple[Any, ...]:
    """Everything a working connection depends on: the registry item, the token, the receiver's keys."""
    world.signing_keys.invalidate(connection_id)
    token = world.tokens.get(connection_id)
    return (
        world.registry.get(connection_id),
        (token.access_token, token.refresh_token, token.generation),
        world.signing_keys.stored(connection_id),
        world.signing_keys.keys_for(connection_id),
    )


# ------------------------------------------------------------------ 1. a failed re-connect


@pytest.mark.parametrize("kind", ["oauth", "pat"])
def test_a_reconnect_that_fails_at_the_subscription_leaves_the_connection_as_it_was(world: World, kind: str) -> None:
    # Given a working connection
    connect(world, kind, "acme")
    before = snapshot(world, "acme")
    subscriptions = dict(world.fake.subscriptions)
    # When the operator connects again and Calendly answers 5xx on every subscription call
    world.fake.fail_next(SUBSCRIPTIONS, "unavailable", times=20)
    with pytest.raises(ConnectError) as refused:
        connect(world, kind, "acme")
    assert refused.value.reason == "calendly_error"
    # Then the token, the signing keys and the registry are exactly as before
    assert snapshot(world, "acme") == before
    assert world.fake.subscriptions == subscriptions
    # And the scheduled jobs still find what they need
    world.fake.faults.clear()
    assert watchdog(world).run() == {"acme": Health.HEALTHY}


def test_a_reconnect_that_fails_to_store_the_token_keeps_the_old_token_working(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a working PAT connection
    old_pat = world.fake.add_pat()
    connect_pat(world, "solo", old_pat)
    registered = world.registry.get("solo")

    # When a re-connect with a new PAT fails to store the token (Secrets Manager trouble)
    def broken(*_: Any, **__: Any) -> str:
        raise DependencyUnavailable("secretsmanager:PutSecretValue (token) failed: InternalServiceError")

    with monkeypatch.context() as patch:
        patch.setattr(world.tokens, "put", broken)
        with pytest.raises(DependencyUnavailable):
            connect_pat(world, "solo")
    # Then the old token and the registry are untouched
    assert world.tokens.get("solo").access_token == old_pat
    assert world.registry.get("solo") == registered
    # And the receiver accepts the key Calendly now signs with (the new subscription's) and the old one
    world.signing_keys.invalidate("solo")
    (uri,) = world.fake.subscriptions
    keys = world.signing_keys.keys_for("solo")
    assert keys is not None
    assert (world.fake.signing_keys[uri] or "").encode() in keys
    assert len(keys) == 2


def test_a_first_connect_that_fails_at_the_subscription_leaves_no_usable_key(world: World) -> None:
    # Given no connection "solo" yet, and Calendly failing every subscription call
    world.fake.fail_next(SUBSCRIPTIONS, "unavailable", times=20)
    # When a PAT connect is attempted
    with pytest.raises(ConnectError):
        connect_pat(world, "solo")
    # Then nothing is registered and the receiver accepts no key for it
    assert world.registry.get("solo") is None
    world.signing_keys.invalidate("solo")
    assert world.signing_keys.keys_for("solo") is None


def test_a_reconnect_while_a_refresh_holds_the_lease_is_refused_and_changes_nothing(world: World) -> None:
    # Given a refresher holds the connection's lease
    world.connect_oauth("acme")
    before = snapshot(world, "acme")
    assert world.registry.acquire_lease("acme", owner="refresher", now=int(world.clock()), seconds=LEASE_SECONDS)
    # When the operator connects again
    with pytest.raises(ConnectError) as refused:
        world.connect_oauth("acme")
    # Then it is refused with a reason to retry, and nothing changed
    assert (refused.value.status, refused.value.reason) == (409, "refresh_in_progress")
    assert snapshot(world, "acme") == before


def test_a_successful_reconnect_makes_a_new_token_generation(world: World) -> None:
    first = world.connect_oauth("acme")
    second = world.connect_oauth("acme")
    assert first.token_generation
    assert second.token_generation
    assert first.token_generation != second.token_generation
    assert world.tokens.get("acme").generation == second.token_generation
    # and the connect's lease is not left behind
    assert world.registry.acquire_lease("acme", owner="next", now=int(world.clock()), seconds=60)


# ------------------------------------------------------------------ 2. one bad connection


def test_a_malformed_token_fails_only_its_connection_and_is_recorded(world: World) -> None:
    # Given three OAuth connections due for refresh, the first with a token secret edited by hand
    for cid in ("acme", "beta", "gamma"):
        world.connect_oauth(cid)
    boto3.client("secretsmanager").put_secret_value(
        SecretId=world.tokens.secret_name("acme"), SecretString='{"kind": "oauth"}'
    )
    expire_soon(world)
    reports: list[tuple[str, str]] = []
    refresher = world.refresher(report=lambda outcome, connection, detail: reports.append((outcome, detail)))
    # When the refresher runs
    results = refresher.run()
    # Then the others are refreshed, the bad one failed, and each was reported
    assert results == {"acme": Outcome.FAILED, "beta": Outcome.REFRESHED, "gamma": Outcome.REFRESHED}
    assert len(reports) == 3
    # And the failure is recorded on that connection, with a reason and a time
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.status == "active"
    assert registered.last_refresh_error is not None
    assert registered.last_refresh_error["reason"] == "token_unreadable"
    assert registered.last_refresh_error["at"].startswith("2027-")
    assert _notes(registered) == [
        f"last refresh failed {registered.last_refresh_error['at']}: token_unreadable "
        "(the token secret lacks a valid kind or access_token)"
    ]


def test_a_missing_token_fails_only_its_connection_in_the_watchdog(world: World) -> None:
    # Given two connections, the first whose token secret is gone
    world.connect_oauth("acme")
    world.connect_oauth("beta")
    boto3.client("secretsmanager").delete_secret(
        SecretId=world.tokens.secret_name("acme"), ForceDeleteWithoutRecovery=True
    )
    # When the watchdog runs
    results = watchdog(world).run()
    # Then the other is checked, and the failure is recorded on the broken one
    assert results == {"acme": Health.ERROR, "beta": Health.HEALTHY}
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.last_check_error is not None
    assert registered.last_check_error["reason"] == "token_missing"


# ------------------------------------------------------------------ 3. refresh vs re-connect


def test_an_invalid_grant_on_an_old_token_does_not_mark_a_fresh_reconnect(world: World) -> None:
    # Given a connection whose refresh token was revoked, due for refresh
    world.connect_oauth("acme")
    stale = world.tokens.get("acme")
    world.fake.refresh_tokens[stale.refresh_token or ""] = False
    expire_soon(world)
    handler = world.fake.httpx_handler
    fresh: dict[str, Connection] = {}

    # When the operator re-connects while the refresher's token call is in flight (its lease run out)
    def reconnect_during_the_refresh(request: httpx.Request) -> httpx.Response:
        if request.url.path == TOKEN_PATH and "grant_type=refresh_token" in request.content.decode() and not fresh:
            world.fake.httpx_handler = handler  # type: ignore[method-assign]
            world.clock.now += LEASE_SECONDS + 1
            fresh["acme"] = world.connect_oauth("acme")
        return handler(request)

    world.fake.httpx_handler = reconnect_during_the_refresh  # type: ignore[method-assign]
    details: list[str] = []
    outcome = world.refresher(report=lambda o, c, detail: details.append(detail)).run()
    # Then the old token's invalid_grant does not touch the fresh connection
    assert outcome == {"acme": Outcome.SUPERSEDED}, details
    registered = world.registry.get("acme")
    assert registered is not None
    assert (registered.status, registered.status_reason) == ("active", None)
    assert registered.token_generation == fresh["acme"].token_generation


# ------------------------------------------------------------------ 4. lost and invalid answers, time


def test_a_lost_refresh_answer_is_not_resent_in_the_run_and_is_recorded(world: World) -> None:
    world.connect_oauth("acme")
    spent = world.tokens.get("acme").refresh_token or ""
    expire_soon(world)
    # Given Calendly uses the refresh token but its answer never arrives
    world.fake.fail_next(TOKEN_PATH, "lost")
    # When the refresher runs
    assert world.refresher().run() == {"acme": Outcome.UNCONFIRMED}
    # Then the token was sent once, and the connection says its refresh is unconfirmed
    assert world.fake.refresh_uses == {spent: 1}
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.status == "active"
    assert registered.refresh_unconfirmed is not None
    assert registered.refresh_unconfirmed["reason"] == "refresh_response_lost"
    # And `calsync connections` tells the operator
    (note,) = _notes(registered)
    assert note.startswith("refresh unconfirmed since 2027-")
    # When the next run re-sends it once, Calendly says it was used: the reason says calsync lost it
    assert world.refresher().run() == {"acme": Outcome.REAUTH_REQUIRED}
    assert world.fake.refresh_uses == {spent: 2}
    registered = world.registry.get("acme")
    assert registered is not None
    assert (registered.status, registered.status_reason) == ("reauth_required", "refresh_response_lost")
    # And no further run touches it
    assert world.refresher().run() == {"acme": Outcome.SKIPPED}
    assert world.fake.refresh_uses == {spent: 2}


def test_a_5xx_that_was_not_processed_is_recovered_on_the_next_run(world: World) -> None:
    world.connect_oauth("acme")
    original = world.tokens.get("acme").refresh_token or ""
    expire_soon(world)
    # Given the token endpoint answers 503 without using the token
    world.fake.fail_next(TOKEN_PATH, "unavailable")
    assert world.refresher().run() == {"acme": Outcome.UNCONFIRMED}
    # When the next run re-sends it
    assert world.refresher().run() == {"acme": Outcome.REFRESHED}
    # Then the connection is refreshed and the marker cleared
    registered = world.registry.get("acme")
    assert registered is not None
    assert (registered.status, registered.refresh_unconfirmed) == ("active", None)
    assert world.fake.refresh_uses == {original: 1}  # the 503 did not process it
    assert world.fake.refresh_tokens[world.tokens.get("acme").refresh_token or ""] is True


def test_a_processed_502_is_not_blamed_on_a_revocation(world: World) -> None:
    world.connect_oauth("acme")
    expire_soon(world)
    world.fake.fail_next(TOKEN_PATH, "processed_502")
    assert world.refresher().run() == {"acme": Outcome.UNCONFIRMED}
    assert world.refresher().run() == {"acme": Outcome.REAUTH_REQUIRED}
    registered = world.registry.get("acme")
    assert registered is not None
    assert registered.status_reason == "refresh_response_lost"


def test_an_unreadable_token_answer_is_not_retried_and_has_its_own_reason(world: World) -> None:
    world.connect_oauth("acme")
    spent = world.tokens.get("acme").refresh_token or ""
    expire_soon(world)
    world.fake.fail_next(TOKEN_PATH, "invalid_body")
    assert world.refresher().run() == {"acme": Outcome.REAUTH_REQUIRED}
    assert world.fake.refresh_uses == {spent: 1}
    registered = world.registry.get("acme")
    assert registered is not None
    assert (registered.status, registered.status_reason) == ("reauth_required", "token_response_invalid")


def test_no_token_is_spent_without_time_to_store_the_result(world: World) -> None:
    world.connect_oauth("acme")
    expire_soon(world)
    # Given a run with less time left than a refresh may take
    refresher = world.refresher(time_left=lambda: REFRESH_WORST_CASE_SECONDS - 1)
    # Then the refresh is deferred: nothing sent, the lease given back
    assert refresher.run() == {"acme": Outcome.DEFERRED}
    assert world.fake.refresh_uses == {}
    assert world.refresher(time_left=lambda: REFRESH_WORST_CASE_SECONDS + 1).run() == {"acme": Outcome.REFRESHED}


# ------------------------------------------------------------------ 5. the OAuth app secret


@pytest.mark.parametrize("missing", ["webhook_signing_key", "client_id", "client_secret"])
def test_connect_oauth_is_refused_until_the_app_secret_is_complete(world: World, missing: str) -> None:
    # Given the app secret as deployed: one field still empty
    app = {"client_id": world.fake.client_id, "client_secret": world.fake.client_secret}
    app["webhook_signing_key"] = APP_SIGNING_KEY
    app[missing] = ""
    boto3.client("secretsmanager").put_secret_value(SecretId=world.app.secret_name, SecretString=json.dumps(app))
    world.app.invalidate()  # the CLI and the callback read it fresh
    # When the operator asks for a link
    with pytest.raises(ConnectError) as refused:
        start_oauth(world.registry, world.app, connection_id="acme", redirect_uri=f"{API_BASE}/oauth/callback", now=NOW)
    # Then it is refused, naming what is missing and where
    assert refused.value.reason == "oauth_app_incomplete"
    assert missing in str(refused.value)
    assert world.app.secret_name in str(refused.value)
    assert world.fake.client_secret not in str(refused.value)


def test_the_callback_is_refused_if_the_app_secret_lost_its_signing_key(world: World) -> None:
    url = start_oauth(
        world.registry, world.app, connection_id="acme", redirect_uri=f"{API_BASE}/oauth/callback", now=NOW
    )
    boto3.client("secretsmanager").put_secret_value(
        SecretId=world.app.secret_name,
        SecretString=json.dumps(
            {"client_id": world.fake.client_id, "client_secret": world.fake.client_secret, "webhook_signing_key": ""}
        ),
    )
    world.app.invalidate()
    with pytest.raises(ConnectError) as refused:
        world.connector().complete_oauth(
            state=parse_qs(urlsplit(url).query)["state"][0],
            code=world.fake.issue_code(),
            token_endpoint=world.oauth(),
            app=world.app,
            calendly_for=world.calendly,
            api_base=API_BASE,
        )
    assert refused.value.reason == "oauth_app_incomplete"
    assert world.registry.get("acme") is None
    assert world.fake.subscriptions == {}


# ------------------------------------------------------------------ 6. re-storing a token


def test_storing_an_earlier_token_again_makes_it_current(world: World) -> None:
    a = StoredToken("pat", "pat-token-A")
    b = StoredToken("pat", "pat-token-B")
    world.tokens.put("solo", a)
    world.tokens.put("solo", b)
    world.tokens.put("solo", a)
    assert world.tokens.get("solo").access_token == "pat-token-A"


# ------------------------------------------------------------------ 19. PKCE without a stored verifier


def test_a_pending_authorization_stores_no_verifier_and_calendly_checks_pkce(world: World) -> None:
    # Given the operator asks for a link
    url = start_oauth(
        world.registry, world.app, connection_id="acme", redirect_uri=f"{API_BASE}/oauth/callback", now=NOW
    )
    # Then the table holds nothing that could complete it without the app's client secret
    items = boto3.client("dynamodb").scan(TableName=world.registry.table_name)["Items"]
    (pending,) = [item for item in items if item["PK"]["S"].startswith("OAUTHSTATE#")]
    assert set(pending) <= {"PK", "SK", "type", "connection_id", "redirect_uri", "expires_at"}
    # When Calendly (which checks the S256 challenge) redirects back with a code
    status, redirect = world.fake.handle("GET", url.replace("https://auth.calendly.com", world.fake.api_base), {}, b"")
    assert status == 302
    query = parse_qs(urlsplit(redirect["location"]).query)
    connection = world.connector().complete_oauth(
        state=query["state"][0],
        code=query["code"][0],
        token_endpoint=world.oauth(),
        app=world.app,
        calendly_for=world.calendly,
        api_base=API_BASE,
    )
    # Then the derived verifier matched the challenge and the connection is made
    assert connection.status == "active"


def test_a_code_bound_to_another_challenge_is_refused(world: World) -> None:
    url = start_oauth(
        world.registry, world.app, connection_id="acme", redirect_uri=f"{API_BASE}/oauth/callback", now=NOW
    )
    state = parse_qs(urlsplit(url).query)["state"][0]
    other = hashlib.sha256(b"someone else's verifier").hexdigest()
    with pytest.raises(ConnectError) as refused:
        world.connector().complete_oauth(
            state=state,
            code=world.fake.issue_code(challenge=other),
            token_endpoint=world.oauth(),
            app=world.app,
            calendly_for=world.calendly,
            api_base=API_BASE,
        )
    assert refused.value.reason == "calendly_error"
    assert world.registry.get("acme") is None
