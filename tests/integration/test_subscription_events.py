"""Subscribing to Calendly's fourteen webhook events against moto and the stateful fake Calendly:
connect subscribes to every event the token's scopes and the plan allow, leaves out and reports
what a plan refuses (403) or a scope does not cover, and the watchdog adds the events an existing
subscription lacks, new before old. What the connection shows (``GET /v1/connections/{id}``) is
read back from the stored record."""

from __future__ import annotations

import httpx
import pytest

from calsync.connections.events import ALL_EVENTS
from calsync.connections.watchdog import REFUSAL_RECHECK, Health
from calsync.read.connections import ConnectionView
from calsync_dev.cli.connections import _notes
from calsync_dev.fake_calendly import API
from calsync_dev.provision import Stack
from tests.integration.test_connections import API_BASE, World, make_world, watchdog

RECAPS = ["meeting_recap.created", "meeting_recap.updated", "meeting_recap.deleted"]
ROUTING = ["routing_form_submission.created"]
FIVE = ["invitee.created", "invitee.canceled", "invitee_no_show.created", "invitee_no_show.deleted", *ROUTING]


@pytest.fixture
def world(stack: Stack) -> World:
    made = make_world(stack)
    made.fake.token_lifetime = 90 * 24 * 3600  # runs here span days; refreshing is not the point
    return made


def shown(world: World, connection_id: str = "acme") -> dict[str, object]:
    connection = world.registry.get(connection_id)
    assert connection is not None
    return ConnectionView.build(connection, None).model_dump(mode="json")["subscription"]  # type: ignore[no-any-return]


def test_connect_subscribes_to_all_fourteen_events(world: World) -> None:
    # When an organization on a paid plan connects with every scope
    world.connect_oauth("acme")
    # Then its one subscription has all fourteen events, and the connection shows them
    (subscription,) = world.fake.subscriptions.values()
    assert subscription["events"] == list(ALL_EVENTS)
    assert shown(world)["events"] == list(ALL_EVENTS)
    assert (shown(world)["refused_events"], shown(world)["missing_scopes"]) == ([], [])


def test_a_free_plan_connects_without_the_refused_events_and_reports_them(world: World) -> None:
    # Given a Free plan (Calendly answers 403 to subscribing to routing forms or meeting recaps)
    world.fake.plan = "free"
    # When the organization connects
    connection = world.connect_oauth("acme")
    # Then connect succeeds with every other event, after retrying without the refused ones
    assert connection.status == "active"
    (subscription,) = world.fake.subscriptions.values()
    assert set(subscription["events"]) == set(ALL_EVENTS) - set(RECAPS + ROUTING)
    # And the connection shows what was left out (the API, and `calsync connections`)
    assert set(shown(world)["refused_events"]) == set(RECAPS + ROUTING)  # type: ignore[arg-type]
    stored = world.registry.get("acme")
    assert stored is not None
    assert any(
        note.startswith("Calendly refused (plan): ") and "meeting_recap.created" in note for note in _notes(stored)
    )


def test_a_token_without_a_family_scope_subscribes_to_the_rest_and_reports_the_scope(world: World) -> None:
    # Given an OAuth app granted everything but contacts:read and meeting_recaps:read
    world.fake.scopes = "users:read scheduled_events:read routing_forms:read webhooks:write event_types:read"
    # When the organization connects
    assert world.connect_oauth("acme").status == "active"
    # Then the subscription has no contact nor recap events, and the missing scopes are shown
    (subscription,) = world.fake.subscriptions.values()
    assert not any(e.startswith(("contact.", "meeting_recap.")) for e in subscription["events"])
    assert shown(world)["missing_scopes"] == ["contacts:read", "meeting_recaps:read"]


def test_a_personal_token_on_a_standard_plan_is_subscribed_to_all_but_routing_forms(world: World) -> None:
    # Given a plan with Notetaker but without routing forms, and a personal access token
    world.fake.plan = "standard"
    pat = world.fake.add_pat()
    # When it is connected
    world.connector().connect_pat(
        connection_id="solo", personal_access_token=pat, calendly_for=world.calendly, api_base=API_BASE
    )
    # Then only the routing form event is left out, and it is reported
    (subscription,) = world.fake.subscriptions.values()
    assert set(subscription["events"]) == set(ALL_EVENTS) - set(ROUTING)
    assert shown(world, "solo")["refused_events"] == ROUTING


def test_the_watchdog_adds_the_events_an_existing_subscription_lacks_without_a_gap(world: World) -> None:
    # Given a connection whose subscription has only the five events calsync used to subscribe to
    world.connect_oauth("acme")
    (old,) = world.fake.subscriptions.values()
    old["events"] = list(FIVE)
    world.fake.subscription_counts.clear()
    # When the watchdog runs
    assert watchdog(world).run() == {"acme": Health.WIDENED}
    # Then the new subscription (all fourteen) existed before the old one was deleted: never none
    (new,) = world.fake.subscriptions.values()
    assert new["events"] == list(ALL_EVENTS)
    assert new["uri"] != old["uri"]
    assert world.fake.subscription_counts == [2, 1]
    # And the connection records it, and the next run leaves it alone
    connection = world.registry.get("acme")
    assert connection is not None
    assert connection.subscription_uri == new["uri"]
    assert shown(world)["events"] == list(ALL_EVENTS)
    assert shown(world)["state"] == "healthy"  # widened, never failing
    assert watchdog(world).run() == {"acme": Health.HEALTHY}


def test_the_local_fake_calendly_switches_plans(world: World) -> None:
    # When the local stack's fake is told the organization is on Free
    answer = world.fake.httpx_handler(httpx.Request("POST", f"{API}/_fake/plan", json={"plan": "free"}))
    # Then it is on Free from now on; an unknown plan is refused and changes nothing
    assert answer.status_code == 200
    assert world.fake.plan == "free"
    bad = world.fake.httpx_handler(httpx.Request("POST", f"{API}/_fake/plan", json={"plan": "gold"}))
    assert bad.status_code == 400
    assert world.fake.plan == "free"


def test_the_watchdog_asks_a_free_plan_for_the_refused_events_once_a_day(world: World) -> None:
    # Given a Free-plan connection (recaps and routing forms refused at connect)
    world.fake.plan = "free"
    world.connect_oauth("acme")
    creates = len([c for c in world.fake.calls if c == ("POST", "/webhook_subscriptions")])
    # When the watchdog runs hourly for most of a day
    for _ in range(3):
        world.fake.clock.now += 3600  # type: ignore[attr-defined]
        assert watchdog(world).run() == {"acme": Health.HEALTHY}
    # Then it created nothing (no calls beyond the list each run)
    assert len([c for c in world.fake.calls if c == ("POST", "/webhook_subscriptions")]) == creates
    # When the plan is upgraded and a day has passed since the refusal
    world.fake.plan = "paid"
    world.fake.clock.now += REFUSAL_RECHECK.total_seconds()  # type: ignore[attr-defined]
    assert watchdog(world).run() == {"acme": Health.WIDENED}
    # Then the subscription has every event and the connection shows none refused
    (subscription,) = world.fake.subscriptions.values()
    assert subscription["events"] == list(ALL_EVENTS)
    assert shown(world)["refused_events"] == []
