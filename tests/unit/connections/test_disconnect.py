"""Disconnecting (calsync.connections.disconnect) over in-memory fakes: each step failing halfway,
a re-run finishing the job, the record kept `removed`, two disconnects never interleaving, and a
re-connect replacing the removed record."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import pytest

from calsync.calendly.errors import CalendlyAuthError, CalendlyError, CalendlyNotFound, CalendlyUnavailable, OAuthError
from calsync.connections.disconnect import DisconnectError, Disconnector
from calsync.connections.records import Connection, StoredToken
from tests.fakes.connections import FakeRegistry, FakeSecrets, FakeTenantData, FakeTokens

NOW = 1_800_000_000.0
SUBSCRIPTION = "https://api.calendly.com/webhook_subscriptions/SUB1"
TOKEN_SECRET = "calsync/test/tokens/acme"
KEY_SECRET = "calsync/test/signing-keys/acme"


CALLBACK = "https://hooks.example/webhooks/calendly/acme"


@dataclass
class Calendly:
    """Calendly's subscriptions (uri -> callback URL): listing and deletion; ``fail`` raises instead."""

    subscriptions: dict[str, str] = field(default_factory=lambda: {SUBSCRIPTION: CALLBACK})
    fail: CalendlyError | None = None
    closed: int = 0

    def list_webhook_subscriptions(self, organization: str, scope: str, user: str | None = None) -> Iterator[Any]:
        if self.fail is not None:
            raise self.fail
        return iter([SimpleNamespace(uri=uri, callback_url=url) for uri, url in self.subscriptions.items()])

    def delete_webhook_subscription(self, uuid_or_uri: str) -> None:
        if self.fail is not None:
            raise self.fail
        if uuid_or_uri not in self.subscriptions:
            raise CalendlyNotFound(404, "Resource Not Found", "no such subscription")
        del self.subscriptions[uuid_or_uri]

    def close(self) -> None:
        self.closed += 1

    def __getattr__(self, name: str) -> Any:  # the rest of the port: never called here
        raise AssertionError(f"unexpected Calendly call {name}")


@dataclass
class Revoker:
    """Calendly's /oauth/revoke: the tokens still valid; ``fail`` raises instead."""

    valid: set[str] = field(default_factory=lambda: {"access-1", "refresh-1"})
    fail: CalendlyError | None = None

    def revoke(self, token: str) -> None:
        if self.fail is not None:
            raise self.fail
        if token not in self.valid:
            raise OAuthError(400, "invalid_request", "unknown token")
        self.valid.discard(token)


@dataclass
class World:
    registry: FakeRegistry = field(default_factory=FakeRegistry)
    tokens: FakeTokens = field(default_factory=FakeTokens)
    secrets: FakeSecrets = field(default_factory=lambda: FakeSecrets({TOKEN_SECRET, KEY_SECRET, "other"}))
    calendly: Calendly = field(default_factory=Calendly)
    revoker: Revoker = field(default_factory=Revoker)
    data: FakeTenantData = field(default_factory=lambda: FakeTenantData({"acme": ["e1", "e2", "e3"], "beta": ["b1"]}))
    clock: float = NOW

    def disconnector(self) -> Disconnector:
        return Disconnector(
            self.registry,
            self.tokens,
            self.secrets,
            calendly_for=lambda connection: self.calendly,
            revoker=lambda: self.revoker,
            data=self.data,
            clock=lambda: self.clock,
        )

    def record(self) -> Connection:
        found = self.registry.get("acme")
        assert found is not None
        return found


def connection(kind: str = "oauth", cid: str = "acme") -> Connection:
    return Connection(
        connection_id=cid,
        kind=kind,  # type: ignore[arg-type]
        status="active",
        organization="https://api.calendly.com/organizations/ORG",
        owner=None,
        callback_url=f"https://hooks.example/webhooks/calendly/{cid}",
        token_secret=f"calsync/test/tokens/{cid}",
        signing_key_secret=f"calsync/test/signing-keys/{cid}",
        subscription_uri=SUBSCRIPTION,
        token_generation="g1",
    )


@pytest.fixture
def world() -> Iterator[World]:
    w = World()
    w.registry.register(connection(), now="2026-12-01T00:00:00Z")
    w.tokens.tokens["acme"] = StoredToken("oauth", "access-1", "refresh-1", expires_at=int(NOW) + 3600)
    return w


def test_a_disconnect_does_every_step_and_keeps_a_removed_record(world: World) -> None:
    # When an active connection is disconnected
    done = world.disconnector().disconnect("acme")
    # Then its subscription is deleted, both tokens revoked, both secrets deleted
    assert done.complete
    assert world.calendly.subscriptions == {}
    assert world.revoker.valid == set()
    assert world.secrets.names == {"other"}
    assert {step: s["outcome"] for step, s in done.steps.items()} == {
        "delete_subscription": "done",
        "revoke_token": "done",
        "delete_secrets": "done",
    }
    # And the record stays, removed, with nothing pending, the lease given back
    record = world.record()
    assert (record.status, record.removal_pending, record.removed_at) == ("removed", [], "2027-01-15T08:00:00Z")
    assert "lease_owner" not in world.registry.table.items[next(iter(world.registry.table.items))]
    # And without erase_data the stored bookings are kept
    assert world.data.events["acme"] == ["e1", "e2", "e3"]
    assert done.as_json()["status"] == "removed"
    assert "remaining" not in done.as_json()


def test_a_replacements_leftover_is_deleted_too_and_another_connections_kept(world: World) -> None:
    # Given a leftover subscription of this connection (a replacement URL) and another connection's
    leftover = "https://api.calendly.com/webhook_subscriptions/SUB2"
    other = "https://api.calendly.com/webhook_subscriptions/OTHER"
    world.calendly.subscriptions[leftover] = CALLBACK + "?subscription=2"
    world.calendly.subscriptions[other] = "https://hooks.example/webhooks/calendly/beta"
    # When it is disconnected
    done = world.disconnector().disconnect("acme")
    # Then both of its subscriptions are deleted, the other connection's kept
    assert done.steps["delete_subscription"] == {"outcome": "done", "detail": "2 deleted at Calendly"}
    assert set(world.calendly.subscriptions) == {other}


def test_an_unknown_connection_is_404(world: World) -> None:
    with pytest.raises(DisconnectError) as raised:
        world.disconnector().disconnect("nobody")
    assert (raised.value.status, raised.value.reason) == (404, "not_found")


def test_a_token_already_invalid_and_a_subscription_already_gone_still_complete(world: World) -> None:
    # Given Calendly no longer knows the subscription nor the tokens
    world.calendly.subscriptions.clear()
    world.revoker.valid.clear()
    # When it is disconnected
    done = world.disconnector().disconnect("acme")
    # Then it carries on and completes
    assert done.complete
    assert done.steps["delete_subscription"]["outcome"] == "already_gone"
    assert world.secrets.names == {"other"}


def test_a_refused_token_leaves_the_subscription_to_the_receivers_410(world: World) -> None:
    world.calendly.fail = CalendlyAuthError(401, "Unauthenticated", "token revoked")
    done = world.disconnector().disconnect("acme")
    assert done.complete
    assert done.steps["delete_subscription"]["outcome"] == "token_invalid"


def test_calendly_down_finishes_what_it_can_and_a_rerun_completes(world: World) -> None:
    # Given Calendly is unavailable
    world.calendly.fail = CalendlyUnavailable(503, "Service Unavailable", "down")
    world.revoker.fail = CalendlyUnavailable(503, "Service Unavailable", "down")
    # When the connection is disconnected with its data
    first = world.disconnector().disconnect("acme", erase_data=True)
    # Then it is removed at once (the receiver answers 410), the data erased, and what Calendly
    # had to do is left, with the secrets kept (a re-run needs the token)
    assert not first.complete
    assert first.remaining == ["delete_subscription", "revoke_token", "delete_secrets"]
    assert first.as_json()["remaining"] == first.remaining
    assert world.record().status == "removed"
    assert world.record().removal_pending == first.remaining
    assert world.data.events["acme"] == []
    assert TOKEN_SECRET in world.secrets.names
    # When Calendly is back and the disconnect is sent again
    world.calendly.fail = world.revoker.fail = None
    world.clock += 60
    second = world.disconnector().disconnect("acme")
    # Then only the steps left run, and it completes; removed_at is still the first disconnect's
    assert second.complete
    assert set(second.steps) == {"delete_subscription", "revoke_token", "delete_secrets"}
    assert world.calendly.subscriptions == {}
    assert world.revoker.valid == set()
    assert world.secrets.names == {"other"}
    assert world.record().removed_at == first.removed_at == second.removed_at


def test_secrets_manager_down_leaves_only_the_secrets_step(world: World) -> None:
    world.secrets.fail = True
    first = world.disconnector().disconnect("acme")
    assert first.remaining == ["delete_secrets"]
    world.secrets.fail = False
    second = world.disconnector().disconnect("acme")
    assert second.complete
    assert set(second.steps) == {"delete_secrets"}
    assert world.secrets.names == {"other"}


def test_the_token_store_down_keeps_the_calendly_steps_for_a_rerun(world: World) -> None:
    world.tokens.fail = True
    first = world.disconnector().disconnect("acme")
    assert first.remaining == ["delete_subscription", "revoke_token", "delete_secrets"]
    world.tokens.fail = False
    assert world.disconnector().disconnect("acme").complete
    assert world.calendly.subscriptions == {}


def test_erasing_data_runs_out_of_time_and_a_rerun_finishes_it_touching_no_other_connection(world: World) -> None:
    # Given a run with no time left after the first page
    first = world.disconnector().disconnect("acme", erase_data=True, time_left=lambda: 0.0)
    # Then the data step is partial and left
    assert first.remaining == ["erase_data"]
    assert first.steps["erase_data"]["outcome"] == "partial"
    assert world.data.events["acme"] == ["e3"]
    # When sent again (erase_data not even repeated: the pending step is remembered)
    second = world.disconnector().disconnect("acme")
    # Then the rest is erased, and the other connection's data is untouched
    assert second.complete
    assert world.data.events == {"acme": [], "beta": ["b1"]}


def test_a_repeated_disconnect_of_a_removed_connection_is_200_with_nothing_to_do(world: World) -> None:
    world.disconnector().disconnect("acme")
    again = world.disconnector().disconnect("acme")
    assert again.complete
    assert again.steps == {}
    assert world.record().status == "removed"


def test_erase_data_later_on_a_removed_connection_erases_it(world: World) -> None:
    world.disconnector().disconnect("acme")
    later = world.disconnector().disconnect("acme", erase_data=True)
    assert later.complete
    assert set(later.steps) == {"erase_data"}
    assert world.data.events["acme"] == []


def test_a_personal_access_token_is_not_revoked_but_its_secret_is_deleted(world: World) -> None:
    world.tokens.tokens["acme"] = StoredToken("pat", "pat-1")
    done = world.disconnector().disconnect("acme")
    assert done.complete
    assert done.steps["revoke_token"]["outcome"] == "not_applicable"
    assert world.secrets.names == {"other"}


def test_a_webhooks_only_connection_without_a_token_secret_disconnects_completely(world: World) -> None:
    # Given a connection that only receives webhooks (the local stack's `local`): no token, no token secret
    world.registry.register(replace(connection(cid="hooks"), token_secret="", kind="pat"), now="2026-12-01T00:00:00Z")
    world.secrets.names.add("calsync/test/signing-keys/hooks")
    # When it is disconnected
    done = world.disconnector().disconnect("hooks")
    # Then it is complete (a 200, not a 503 asking for a retry that can never succeed): its signing
    # key is deleted, and no secret without a name was asked for
    assert (done.complete, done.remaining) == (True, [])
    assert done.steps["delete_secrets"]["outcome"] == "done"
    assert world.secrets.deleted == ["calsync/test/signing-keys/hooks"]


def test_a_second_disconnect_while_one_holds_the_lease_is_409_and_changes_nothing(world: World) -> None:
    # Given another disconnect (or a refresh, or a connect) holds the connection's lease
    assert world.registry.acquire_lease("acme", owner="someone", now=int(NOW), seconds=300)
    # When a disconnect comes
    with pytest.raises(DisconnectError) as raised:
        world.disconnector().disconnect("acme")
    # Then it is a clear 409 and the record is as it was
    assert (raised.value.status, raised.value.reason) == (409, "conflict")
    assert world.record().status == "active"
    assert set(world.calendly.subscriptions) == {SUBSCRIPTION}


def test_the_scheduled_jobs_skip_a_removed_connection(world: World) -> None:
    from calsync.connections.refresh import Refresher

    world.disconnector().disconnect("acme")

    class NoOAuth:
        def refresh(self, refresh_token: str) -> Any:
            raise AssertionError("a removed connection must not be refreshed")

        def exchange_code(self, *args: Any) -> Any:
            raise AssertionError

    outcomes = Refresher(world.registry, world.tokens, NoOAuth(), "owner", clock=lambda: NOW).run()
    assert outcomes == {}

    from calsync.connections.watchdog import Watchdog
    from tests.fakes.connections import FakeReconcileRequests

    def no_calendly(connection: Connection) -> Any:
        raise AssertionError("a removed connection must not be checked")

    assert Watchdog(world.registry, no_calendly, lambda c: None, FakeReconcileRequests(), clock=lambda: NOW).run() == {}


def test_connecting_again_replaces_the_removed_record_with_an_active_one(world: World) -> None:
    # Given a removed connection
    world.disconnector().disconnect("acme")
    # When the same id is connected again (the connect's last step registers the record)
    fresh = connection()
    world.registry.register(fresh, now="2027-02-01T00:00:00Z")
    # Then the record is active, with nothing of the disconnect left on it
    record = world.record()
    assert (record.status, record.removed_at, record.removal_pending) == ("active", None, None)
    assert record.token_generation == "g1"
