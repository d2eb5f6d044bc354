"""The connections' ports: FakeRegistry / DynamoConnectionRegistry, FakeTokens /
SecretsManagerTokenStore, FakeAppSecret / SecretsManagerOAuthApp and FakeReconcileRequests /
SqsReconcileRequests (moto) behave alike."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pytest

from calsync.connections.aws_registry import DynamoConnectionIds, DynamoConnectionRegistry, DynamoConnectionStatus
from calsync.connections.aws_tokens import SecretsManagerOAuthApp, SecretsManagerTokenStore
from calsync.connections.ports import AppSecret, ReconcileRequests, Registry, Tokens
from calsync.connections.records import Connection, PendingAuthorization, StoredToken, TokenNotFound
from calsync.errors import DependencyUnavailable
from calsync.reconcile.requests import ReconcileRequest
from tests.contract.conftest import TABLE, MotoTable, moto_client
from tests.fakes.connections import FakeAppSecret, FakeReconcileRequests, FakeRegistry, FakeTokens
from tests.fakes.table import MemoryTable

NOW = "2026-12-01T12:00:00Z"
LATER = "2026-12-01T13:00:00Z"
ACME = Connection(
    connection_id="acme",
    kind="oauth",
    status="active",
    organization="https://api.calendly.com/organizations/O1",
    owner="https://api.calendly.com/users/U1",
    callback_url="https://calsync.example/webhooks/calendly/acme",
    token_secret="calsync/test/tokens/acme",
    signing_key_secret="calsync/test/signing-keys/acme",
    subscription_uri="https://api.calendly.com/webhook_subscriptions/S1",
    token_expires_at=1_800_000_000,
    token_generation="g1",
)


@dataclass
class Registered:
    registry: Registry
    exists: Callable[[str], bool]
    status: Callable[[str], str | None]
    registration: Callable[..., str | None]


@pytest.fixture
def subject(table: MemoryTable | MotoTable) -> Registered:
    if isinstance(table, MemoryTable):
        fake = FakeRegistry(table)
        return Registered(fake, fake.exists, fake.status, fake.registration)
    ids = DynamoConnectionIds(TABLE, table.client)
    return Registered(
        DynamoConnectionRegistry(TABLE, table.client),
        ids.exists,
        DynamoConnectionStatus(TABLE, table.client).status,
        ids.registration,
    )


def test_a_registered_connection_is_read_back_as_registered(subject: Registered) -> None:
    registry = subject.registry
    # Given nothing registered
    assert registry.get("acme") is None
    assert subject.exists("acme") is False
    # When two connections are registered (one a PAT without owner or generation)
    registry.register(ACME, now=NOW)
    pat = replace(ACME, connection_id="beta", kind="pat", owner=None, token_generation=None, token_expires_at=None)
    registry.register(pat, now=NOW)
    # Then each reads back whole, with its creation time, and both are listed in id order
    assert registry.get("acme") == replace(ACME, created_at=NOW)
    assert registry.get("beta") == replace(pat, created_at=NOW)
    assert [c.connection_id for c in registry.all()] == ["acme", "beta"]
    assert subject.exists("acme") is True
    # And registering again (a re-connect) keeps the first creation time given
    registry.register(replace(ACME, created_at=NOW, token_generation="g2"), now=LATER)
    assert registry.get("acme") == replace(ACME, created_at=NOW, token_generation="g2")


def test_status_changes_apply_only_to_the_generation_they_were_based_on(subject: Registered) -> None:
    registry = subject.registry
    registry.register(ACME, now=NOW)
    # When a refresher working on an older token marks the connection, nothing changes
    assert registry.mark_reauth_required("acme", reason="invalid_grant", now=LATER, generation="g0") is False
    assert registry.mark_reauth_required("acme", reason="invalid_grant", now=LATER, generation=None) is False
    assert registry.mark_reauth_required("gone", reason="invalid_grant", now=LATER, generation="g1") is False
    assert registry.get("acme") == replace(ACME, created_at=NOW)
    # When the current generation's refresh fails, then succeeds
    assert registry.refresh_unconfirmed("acme", reason="timeout", now=NOW, generation="g1") is True
    assert registry.record_error("acme", job="refresh", reason="http", detail="500", now=NOW, generation="g1") is True
    assert registry.record_error("acme", job="check", reason="http", detail="503", now=NOW, generation="g1") is True
    assert registry.token_refreshed("acme", expires_at=1_900_000_000, now=LATER, generation="g1") is True
    # Then the refresh's trouble is cleared, the check's stays
    found = registry.get("acme")
    assert found is not None
    assert (found.token_expires_at, found.refresh_unconfirmed, found.last_refresh_error) == (1_900_000_000, None, None)
    assert found.last_check_error == {"reason": "http", "at": NOW, "detail": "503"}
    # And marking it for re-authorization names the reason
    assert registry.mark_reauth_required("acme", reason="invalid_grant", now=LATER, generation="g1") is True
    found = registry.get("acme")
    assert found is not None
    assert (found.status, found.status_reason) == ("reauth_required", "invalid_grant")


def test_a_connection_written_before_generations_takes_changes_without_one(subject: Registered) -> None:
    registry = subject.registry
    registry.register(replace(ACME, token_generation=None), now=NOW)
    assert registry.subscription_healthy("acme", now=LATER, generation="g1") is False
    assert registry.subscription_healthy("acme", now=LATER, generation=None) is True
    found = registry.get("acme")
    assert found is not None
    assert found.subscription_healthy_at == LATER


def test_the_watchdogs_records_are_kept(subject: Registered) -> None:
    registry = subject.registry
    registry.register(ACME, now=NOW)
    first = {"old": "S1", "new": "S2", "at_epoch": 1_800_000_100}
    second = {"old": "S2", "new": "S3", "at_epoch": 1_800_000_200}
    new_uri = "https://api.calendly.com/webhook_subscriptions/S3"
    assert registry.subscription_replaced("acme", subscription_uri="x", record=first, now=NOW, generation="g1")
    assert registry.subscription_replaced("acme", subscription_uri=new_uri, record=second, now=NOW, generation="g1")
    assert not registry.subscription_replaced("acme", subscription_uri="y", record=second, now=NOW, generation="g9")
    gap = {"since": NOW, "reason": "disabled", "noticed_at": LATER, "requested_at": None}
    assert registry.gap_reconcile("acme", record=gap, now=LATER, generation="g1") is True
    found = registry.get("acme")
    assert found is not None
    assert (found.subscription_uri, found.subscription_recreated, found.gap_reconcile) == (
        new_uri,
        [first, second],
        gap,
    )


def test_one_refresher_holds_the_lease_until_it_releases_it_or_it_runs_out(subject: Registered) -> None:
    registry = subject.registry
    registry.register(ACME, now=NOW)
    assert registry.acquire_lease("gone", owner="a", now=1000, seconds=60) is False
    assert registry.acquire_lease("acme", owner="a", now=1000, seconds=60) is True
    assert registry.acquire_lease("acme", owner="b", now=1059, seconds=60) is False
    assert registry.acquire_lease("acme", owner="b", now=1060, seconds=60) is False  # until the end, inclusive
    assert registry.acquire_lease("acme", owner="b", now=1061, seconds=60) is True
    registry.release_lease("acme", owner="a")  # not the holder: nothing
    assert registry.acquire_lease("acme", owner="c", now=1062, seconds=60) is False
    registry.release_lease("acme", owner="b")
    assert registry.acquire_lease("acme", owner="c", now=1062, seconds=60) is True


def test_a_pending_authorization_works_once_and_not_after_it_expired(subject: Registered) -> None:
    registry = subject.registry
    pending = PendingAuthorization("st1", "acme", "https://calsync.example/oauth/callback", 2000)
    registry.put_pending(pending)
    registry.put_pending(replace(pending, state="st2"))
    with pytest.raises(DependencyUnavailable):
        registry.put_pending(pending)
    assert registry.take_pending("st1", now=1999) == pending
    assert registry.take_pending("st1", now=1999) is None
    assert registry.take_pending("st2", now=2000) is None
    assert registry.take_pending("unknown", now=0) is None


def test_a_pending_authorization_keeps_where_the_customer_returns(subject: Registered) -> None:
    pending = PendingAuthorization(
        "st3", "acme", "https://calsync.example/oauth/callback", 2000, "https://app.example/x?y=1"
    )
    subject.registry.put_pending(pending)
    assert subject.registry.take_pending("st3", now=1) == pending


def test_a_connection_s_status_is_read_alone(subject: Registered) -> None:
    # Given no connection, then an active one, then the same marked for re-authorization
    assert subject.status("acme") is None
    subject.registry.register(ACME, now=NOW)
    assert subject.status("acme") == "active"
    subject.registry.register(replace(ACME, status="reauth_required"), now=LATER)
    assert subject.status("acme") == "reauth_required"


# -- tokens and the OAuth app's secret --------------------------------------------------------------


@pytest.fixture
def tokens(backend: str, request: pytest.FixtureRequest) -> Tokens:
    if backend == "fake":
        return FakeTokens("calsync/test/tokens/")
    return SecretsManagerTokenStore("calsync/test/tokens/", client=moto_client("secretsmanager", request))


def test_a_token_put_is_the_one_read_until_the_next_put(tokens: Tokens) -> None:
    with pytest.raises(TokenNotFound):
        tokens.get("acme")
    first = StoredToken("oauth", "a1", "r1", 1_800_000_000, "U1", "O1", "g1")
    assert tokens.put("acme", first) == tokens.secret_name("acme") == "calsync/test/tokens/acme"
    assert tokens.get("acme") == first
    second = StoredToken("oauth", "a2", "r2", 1_800_007_200, "U1", "O1", "g1")
    tokens.put("acme", second)
    tokens.put("beta", StoredToken("pat", "p1"))
    assert tokens.get("acme") == second
    assert tokens.get("beta") == StoredToken("pat", "p1")


@pytest.fixture
def app_secret(backend: str, request: pytest.FixtureRequest) -> Callable[[dict[str, str]], AppSecret]:
    def make(value: dict[str, str]) -> AppSecret:
        if backend == "fake":
            return FakeAppSecret(value, secret_name="calsync/test/oauth-app")
        client = moto_client("secretsmanager", request)
        client.create_secret(Name="calsync/test/oauth-app", SecretString=json.dumps(value))
        return SecretsManagerOAuthApp("calsync/test/oauth-app", client=client)

    return make


def test_the_oauth_apps_fields_are_read_and_missing_ones_named(
    app_secret: Callable[[dict[str, str]], AppSecret],
) -> None:
    app = app_secret({"client_id": "cid", "client_secret": "cs"}).get()
    assert (app.client_id, app.client_secret, app.webhook_signing_key) == ("cid", "cs", "")
    assert app.missing() == ["webhook_signing_key"]


# -- reconcile requests ----------------------------------------------------------------------------


@dataclass
class Requests:
    port: ReconcileRequests
    received: Callable[[], list[ReconcileRequest]]


@pytest.fixture
def requests(backend: str, request: pytest.FixtureRequest) -> Requests:
    if backend == "fake":
        fake = FakeReconcileRequests()
        return Requests(fake, lambda: fake.requests)
    from calsync.reconcile.aws_requests import SqsReconcileRequests

    sqs = moto_client("sqs", request)
    url = sqs.create_queue(QueueName="reconcile-requests")["QueueUrl"]

    def received() -> list[ReconcileRequest]:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        return [ReconcileRequest.from_message_body(m["Body"]) for m in messages]

    return Requests(SqsReconcileRequests(url, sqs), received)


def test_a_gap_reconcile_request_reaches_the_reconciler_as_asked(requests: Requests) -> None:
    since = datetime(2026, 11, 30, 8, tzinfo=UTC)
    asked = datetime(2026, 12, 1, 12, tzinfo=UTC)
    requests.port.request("acme", since=since, reason="subscription disabled", requested_at=asked)
    assert requests.received() == [
        ReconcileRequest(connection_id="acme", since=since, reason="subscription disabled", requested_at=asked)
    ]


def test_a_disconnect_marks_the_record_removed_only_under_its_lease_and_a_reconnect_replaces_it(
    subject: Registered,
) -> None:
    registry = subject.registry
    registry.register(ACME, now=NOW)
    assert subject.registration("acme") == "registered"
    assert subject.registration("nobody") is None
    # Without the lease nothing is marked (another disconnect, a refresh or a connect holds it)
    assert registry.acquire_lease("acme", owner="other", now=1_000, seconds=300) is True
    assert registry.mark_removed("acme", owner="me", pending=["revoke_token"], now=NOW) is False
    assert registry.get("acme") == replace(ACME, created_at=NOW)
    registry.release_lease("acme", owner="other")
    # With it: removed, the steps left recorded, the receiver told so
    assert registry.acquire_lease("acme", owner="me", now=1_000, seconds=300) is True
    assert registry.mark_removed("acme", owner="me", pending=["revoke_token", "delete_secrets"], now=NOW) is True
    removed = registry.get("acme")
    assert removed is not None
    assert (removed.status, removed.removed_at, removed.removal_pending) == (
        "removed",
        NOW,
        ["revoke_token", "delete_secrets"],
    )
    assert subject.registration("acme", now=1_100) == "changing"  # the lease held: deliveries retried
    assert subject.registration("acme", now=1_300) == "removed"
    assert subject.exists("acme") is True
    # And a job working on the old token generation can no longer write to it
    assert registry.record_error("acme", job="refresh", reason="x", detail="y", now=LATER, generation="g1") is False
    # Progress is recorded only by the lease holder; a second mark keeps the first removed_at
    assert registry.removal_progress("acme", owner="other", pending=[], now=LATER) is False
    assert registry.removal_progress("acme", owner="me", pending=[], now=LATER) is True
    assert registry.mark_removed("acme", owner="me", pending=["erase_data"], now=LATER) is True
    again = registry.get("acme")
    assert again is not None
    assert (again.removed_at, again.removal_pending) == (NOW, ["erase_data"])
    # When the same id is connected again, the record is a whole new, active one
    registry.register(replace(ACME, token_generation="g2"), now=LATER)
    assert registry.get("acme") == replace(ACME, token_generation="g2", created_at=LATER)
    assert subject.registration("acme") == "registered"
