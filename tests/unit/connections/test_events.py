"""Which webhook events a connection subscribes to (scopes, plans), the 403 retry without the
refused events, and the watchdog adding the events a subscription lacks: no AWS, no HTTP (an
in-memory Calendly that refuses what a plan or a token would)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.calendly.errors import CalendlyPermissionError
from calsync.calendly.models import WebhookSubscription
from calsync.connections import events, scopes
from calsync.connections.records import Connection
from calsync.connections.subscriptions import create_allowed, ensure
from calsync.connections.watchdog import REFUSAL_RECHECK, Health, Watchdog
from tests.fakes.connections import FakeReconcileRequests, FakeRegistry

BASE = "https://hooks.example.com/dev/webhooks/calendly/acme"
ORG = "https://api.calendly.com/organizations/ORG"
NOW = datetime(2027, 1, 20, 12, tzinfo=UTC)
RECAPS = ["meeting_recap.created", "meeting_recap.updated", "meeting_recap.deleted"]
ROUTING = ["routing_form_submission.created"]
FIVE = ["invitee.created", "invitee.canceled", "invitee_no_show.created", "invitee_no_show.deleted", *ROUTING]


class Calendly:
    """Webhook subscriptions in memory; a create naming any of ``refuses`` is 403 (as Calendly
    answers a plan without the feature: no event named)."""

    def __init__(self, refuses: Iterable[str] = ()) -> None:
        self.refuses = set(refuses)
        self.subscriptions: dict[str, WebhookSubscription] = {}
        self.calls: list[tuple[str, Any]] = []
        self._ids: Iterator[int] = itertools.count(1)

    def add(self, url: str, event_names: list[str]) -> WebhookSubscription:
        uri = f"https://api.calendly.com/webhook_subscriptions/S{next(self._ids)}"
        made = WebhookSubscription.model_validate(
            {
                "uri": uri,
                "callback_url": url,
                "events": event_names,
                "scope": "organization",
                "organization": ORG,
                "state": "active",
            }
        )
        self.subscriptions[uri] = made
        return made

    def list_webhook_subscriptions(self, organization: str, scope: str) -> list[WebhookSubscription]:
        self.calls.append(("list", None))
        return list(self.subscriptions.values())

    def create_webhook_subscription(
        self, url: str, event_names: Iterable[str], organization: str, scope: str, signing_key: str | None = None
    ) -> WebhookSubscription:
        names = list(event_names)
        self.calls.append(("create", names))
        if self.refuses & set(names):
            raise CalendlyPermissionError(403, "Permission Denied", "Please upgrade to a paid Calendly account.")
        return self.add(url, names)

    def delete_webhook_subscription(self, uuid_or_uri: str) -> None:
        self.calls.append(("delete", uuid_or_uri))
        self.subscriptions.pop(uuid_or_uri, None)

    def close(self) -> None:
        return None

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.calls]


# ------------------------------------------------------------------ which events


def test_calendly_sends_fourteen_events_and_calsync_wants_all_of_them() -> None:
    assert len(events.ALL_EVENTS) == len(set(events.ALL_EVENTS)) == 14
    assert set(FIVE + RECAPS) < set(events.ALL_EVENTS)
    assert {"event_type.deleted", "contact.updated"} < set(events.ALL_EVENTS)


@pytest.mark.parametrize("granted", [None, "", "default"])
def test_a_token_made_before_scopes_may_subscribe_to_every_event(granted: str | None) -> None:
    assert events.for_scopes(granted) == (list(events.ALL_EVENTS), [])


def test_a_token_lacking_a_family_scope_gets_the_rest_and_the_missing_scopes_are_named() -> None:
    # Given a token that can read scheduled events and write event types, nothing else
    wanted, missing = events.for_scopes("users:read scheduled_events:read webhooks:write event_types:write")
    # Then it subscribes to the invitee, no-show and event type events (write covers read)
    assert {events.family(e) for e in wanted} == {"invitee", "invitee_no_show", "event_type"}
    # And the scopes of the other families are reported
    assert missing == ["contacts:read", "meeting_recaps:read", "routing_forms:read"]
    assert events.wanted(missing) == wanted


def test_only_the_core_scopes_are_required_to_connect() -> None:
    assert scopes.required() == ["scheduled_events:read", "webhooks:write"]
    assert scopes.optional() == ["contacts:read", "event_types:read", "meeting_recaps:read", "routing_forms:read"]
    assert scopes.missing("scheduled_events:read webhooks:write") == []


def test_after_a_403_the_plan_gated_families_are_left_out_fewest_first_then_all_but_the_core() -> None:
    tries = events.attempts(list(events.ALL_EVENTS))
    left_out = [sorted({events.family(e) for e in events.ALL_EVENTS if e not in tried}) for tried in tries]
    assert left_out == [
        [],
        ["meeting_recap"],
        ["routing_form_submission"],
        ["meeting_recap", "routing_form_submission"],
        ["contact", "event_type", "meeting_recap", "routing_form_submission"],
    ]


# ------------------------------------------------------------------ the 403 retry


def test_a_plan_without_notetaker_subscribes_to_everything_else_and_reports_the_recaps() -> None:
    # Given a plan that refuses the meeting recap events
    calendly = Calendly(refuses=RECAPS)
    # When a subscription to every event is created
    made = create_allowed(calendly, BASE, events.ALL_EVENTS, ORG, None)
    # Then it was created again without them, after one 403, and they are reported
    assert calendly.kinds() == ["create", "create"]
    assert made.refused == tuple(RECAPS)
    assert made.events == [e for e in events.ALL_EVENTS if e not in RECAPS]


def test_a_free_plan_subscribes_without_routing_forms_and_recaps() -> None:
    calendly = Calendly(refuses=RECAPS + ROUTING)
    made = create_allowed(calendly, BASE, events.ALL_EVENTS, ORG, None)
    assert set(made.refused) == set(RECAPS + ROUTING)
    assert {"contact.created", "event_type.updated", "invitee.created"} <= set(made.events)
    assert len(calendly.subscriptions) == 1


def test_a_refusal_of_even_the_invitee_events_is_raised() -> None:
    # Given a token Calendly refuses to subscribe anything for (no webhooks:write)
    calendly = Calendly(refuses=events.ALL_EVENTS)
    # Then the first 403 is raised, after at most five tries, and nothing was created
    with pytest.raises(CalendlyPermissionError):
        create_allowed(calendly, BASE, events.ALL_EVENTS, ORG, None)
    assert calendly.kinds().count("create") <= 5
    assert calendly.subscriptions == {}


def test_connect_replaces_a_subscription_that_lacks_events_even_without_a_new_key() -> None:
    # Given an enabled subscription of ours with the five events calsync used to subscribe to
    calendly = Calendly()
    old = calendly.add(BASE, FIVE)
    # When connect ensures the subscription (OAuth: no signing key to send)
    made = ensure(calendly, base_url=BASE, organization=ORG, signing_key=None, events=events.ALL_EVENTS)
    # Then a new one with all fourteen replaced it, created before the old one was deleted
    assert made.events == list(events.ALL_EVENTS)
    assert list(calendly.subscriptions.values()) == [made.subscription]
    assert calendly.kinds()[-2:] == ["create", "delete"]
    assert calendly.calls[-1] == ("delete", str(old.uri))


# ------------------------------------------------------------------ the watchdog


def connection(registry: FakeRegistry, subscription: WebhookSubscription, **fields: Any) -> Connection:
    registry.register(
        Connection(
            connection_id="acme",
            kind="oauth",
            status="active",
            organization=ORG,
            owner=None,
            callback_url=BASE,
            token_secret="t",
            signing_key_secret="k",
            subscription_uri=str(subscription.uri),
            **fields,
        ),
        now="2027-01-01T00:00:00Z",
    )
    found = registry.get("acme")
    assert found is not None
    return found


def watchdog(
    registry: FakeRegistry, calendly: Calendly, now: datetime = NOW, requests: FakeReconcileRequests | None = None
) -> Watchdog:
    reconcile = requests if requests is not None else FakeReconcileRequests()
    return Watchdog(registry, lambda c: calendly, lambda c: None, reconcile, clock=now.timestamp)  # type: ignore[arg-type]


def test_the_watchdog_adds_the_events_a_delivering_subscription_lacks_new_before_old() -> None:
    # Given a healthy subscription made when calsync subscribed to five events
    calendly, registry = Calendly(), FakeRegistry()
    old = calendly.add(BASE, FIVE)
    acme = connection(registry, old)
    requests = FakeReconcileRequests()
    # When the watchdog checks it
    health, detail = watchdog(registry, calendly, requests=requests).check(acme)
    # Then a new subscription with all fourteen was created first, and the old one deleted after it
    assert health is Health.WIDENED  # not a problem: no alarm, no gap reconcile
    assert requests.requests == []
    assert calendly.kinds() == ["list", "create", "delete"]
    assert calendly.calls[-1] == ("delete", str(old.uri))
    (new,) = calendly.subscriptions.values()
    assert new.events == list(events.ALL_EVENTS)
    assert new.callback_url == f"{BASE}?subscription=2"  # Calendly refuses a second one at the same URL
    # And the connection records the new subscription and its events
    stored = registry.get("acme")
    assert stored is not None
    assert stored.subscription_uri == str(new.uri)
    assert stored.subscription_events is not None
    assert stored.subscription_events["events"] == list(events.ALL_EVENTS)
    assert stored.subscription_recreated[-1]["was"] == "lacking_events"
    assert "meeting_recap.created" in detail


def test_the_watchdog_keeps_a_subscription_whose_missing_events_the_plan_refuses_and_asks_daily() -> None:
    # Given a Free plan: a subscription with everything but routing forms and recaps
    refused = RECAPS + ROUTING
    calendly, registry = Calendly(refuses=refused), FakeRegistry()
    live = calendly.add(BASE, [e for e in events.ALL_EVENTS if e not in refused])
    acme = connection(registry, live)
    # When the watchdog checks it for the first time
    health, _ = watchdog(registry, calendly).check(acme)
    # Then it tried to widen it, was refused, and kept the one delivering (nothing created remains)
    assert health is Health.HEALTHY
    assert list(calendly.subscriptions) == [str(live.uri)]
    stored = registry.get("acme")
    assert stored is not None
    assert stored.subscription_events is not None
    assert set(stored.subscription_events["refused_events"]) == set(refused)
    # When it checks again within a day
    calendly.calls.clear()
    assert watchdog(registry, calendly, NOW + timedelta(hours=1)).check(stored)[0] is Health.HEALTHY
    # Then it asked Calendly nothing but the list (a Free plan costs no extra calls per run)
    assert calendly.kinds() == ["list"]
    # When the plan was upgraded and a day has passed
    calendly.refuses.clear()
    later = registry.get("acme")
    assert later is not None
    assert watchdog(registry, calendly, NOW + REFUSAL_RECHECK).check(later)[0] is Health.WIDENED
    # Then the subscription now has every event
    (new,) = calendly.subscriptions.values()
    assert new.events == list(events.ALL_EVENTS)


def test_the_watchdog_leaves_out_the_events_of_scopes_the_token_lacks() -> None:
    # Given a connection whose token lacks contacts:read, subscribed to everything else
    calendly, registry = Calendly(), FakeRegistry()
    wanted = events.wanted(["contacts:read"])
    live = calendly.add(BASE, wanted)
    record = events.record(wanted, [], ["contacts:read"], "2027-01-01T00:00:00Z")
    acme = connection(registry, live, subscription_events=record)
    # When the watchdog checks it
    health, _ = watchdog(registry, calendly).check(acme)
    # Then nothing is created: the contact events are not missing, the scope is
    assert health is Health.HEALTHY
    assert calendly.kinds() == ["list"]


def test_the_watchdog_recreates_a_missing_subscription_with_every_allowed_event() -> None:
    # Given a connection whose subscription Calendly deleted, on a plan without Notetaker
    calendly, registry = Calendly(refuses=RECAPS), FakeRegistry()
    gone = calendly.add(BASE, FIVE)
    acme = connection(registry, gone)
    calendly.subscriptions.clear()
    # When the watchdog checks it
    health, _ = watchdog(registry, calendly).check(acme)
    # Then a new one has every event but the refused recaps, which are recorded
    assert health is Health.RECREATED
    (new,) = calendly.subscriptions.values()
    assert new.events == [e for e in events.ALL_EVENTS if e not in RECAPS]
    stored = registry.get("acme")
    assert stored is not None
    assert stored.subscription_events is not None
    assert stored.subscription_events["refused_events"] == RECAPS
