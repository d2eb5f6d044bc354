"""Acting through calsync against the template's own table (moto), with Calendly in memory: a
booking made through the API is stored as its webhook would be, and the webhook Calendly then
sends (or sent first) changes nothing a consumer sees: one Booking Scheduled, one Booking Canceled,
one No-Show Marked, whatever the order."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest

from calsync import compose
from calsync.actions.act import Actions
from calsync.actions.requests import BookRequest, CancelRequest
from calsync.config import ActionsApiSettings
from calsync_dev.events import SAMPLES_NOW
from calsync_dev.provision import Stack
from tests.fakes.actions import FakeCalendlyAccess, FakeScheduling
from tests.integration.conftest import Pipeline
from tests.integration.test_lifecycle import Lifecycle, kinds

BOOK = {
    "event_type": "ET1",
    "start_time": (SAMPLES_NOW + timedelta(days=3)).isoformat(),
    "invitee": {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"},
}


def webhook(calendly: FakeScheduling, event: str, invitee_uuid: str) -> bytes:
    """What Calendly sends about the invitee as it now holds it (the API's fields, the event embedded)."""
    invitee = calendly.invitees[invitee_uuid]
    scheduled = calendly.events[invitee["event"].rpartition("/")[2]]
    payload = {**invitee, "scheduled_event": scheduled, "cancel_url": "https://calendly.com/cancellations/X"}
    envelope = {
        "event": event,
        "created_at": invitee["updated_at"],
        "created_by": "https://api.calendly.com/users/U1",
        "payload": payload,
    }
    return json.dumps(envelope).encode()


class Acting:
    def __init__(self, lifecycle: Lifecycle) -> None:
        self.lifecycle = lifecycle
        self.calendly = FakeScheduling(SAMPLES_NOW)
        built = compose.actions(ActionsApiSettings.from_env())
        self.actions: Actions = dataclasses.replace(
            built, calendly=FakeCalendlyAccess(self.calendly), clock=lambda: SAMPLES_NOW
        )

    def published(self) -> list[str]:
        return kinds(self.lifecycle.deliver())

    def view(self, invitee_uuid: str) -> dict[str, Any]:
        found = self.actions.bookings.find("acme", invitee_uuid)
        assert found is not None
        return self.actions.view("acme", (str(found["event_uuid"]), invitee_uuid))


@pytest.fixture
def acting(pipeline: Pipeline, stack: Stack) -> Acting:
    return Acting(Lifecycle(pipeline))


def test_action_first_then_its_webhook_publish_one_event_per_change(acting: Acting) -> None:
    # Given a booking made through the API
    answer = acting.actions.book("acme", BookRequest.model_validate(BOOK), "key-1")
    assert answer.booking is not None
    _, invitee_uuid = answer.booking
    stored = acting.view(invitee_uuid)
    assert stored["status"] == "active"
    assert acting.published() == ["Booking Scheduled"]
    # When Calendly's invitee.created webhook for it arrives
    assert kinds(acting.lifecycle.deliver(webhook(acting.calendly, "invitee.created", invitee_uuid))) == []
    # Then nothing more is published and the booking reads the same
    assert {k: v for k, v in acting.view(invitee_uuid).items() if k != "version"} == {
        k: v for k, v in stored.items() if k != "version"
    }
    # And a cancel, then its webhook: one Booking Canceled
    acting.actions.cancel("acme", invitee_uuid, CancelRequest(reason="ill"), None)
    assert acting.published() == ["Booking Canceled"]
    assert kinds(acting.lifecycle.deliver(webhook(acting.calendly, "invitee.canceled", invitee_uuid))) == []
    assert acting.view(invitee_uuid)["status"] == "canceled"


def test_webhook_first_then_the_actions_own_store_publish_one_event(acting: Acting) -> None:
    # Given Calendly's webhook is processed before the action stores its own result
    calendly, lifecycle = acting.calendly, acting.lifecycle
    seen: list[list[str]] = []
    original = calendly.create_invitee

    def booked_and_notified(body: dict[str, Any]) -> Any:
        invitee = original(body)
        seen.append(kinds(lifecycle.deliver(webhook(calendly, "invitee.created", invitee.uri.rpartition("/")[2]))))
        return invitee

    calendly.create_invitee = booked_and_notified  # type: ignore[method-assign]
    # When the booking is made through the API
    answer = acting.actions.book("acme", BookRequest.model_validate(BOOK), None)
    assert answer.booking is not None
    # Then the webhook published the one Booking Scheduled, and the action's store nothing more
    assert seen == [["Booking Scheduled"]]
    assert acting.published() == []
    assert acting.view(answer.booking[1])["email"] == "ada@example.com"


def test_a_no_show_marked_through_the_api_is_published_once(acting: Acting) -> None:
    answer = acting.actions.book("acme", BookRequest.model_validate(BOOK), None)
    assert answer.booking is not None
    acting.published()
    acting.actions.mark_no_show("acme", answer.booking[1], None)
    assert acting.published() == ["Invitee No-Show Marked"]
    # Calendly's invitee_no_show.created (the invitee with its mark) changes nothing more
    body = webhook(acting.calendly, "invitee_no_show.created", answer.booking[1])
    assert kinds(acting.lifecycle.deliver(body)) == []
    acting.actions.clear_no_show("acme", answer.booking[1], None)
    assert acting.published() == ["Invitee No-Show Cleared"]


def test_the_idempotency_record_holds_no_personal_data(acting: Acting, pipeline: Pipeline) -> None:
    acting.actions.book("acme", BookRequest.model_validate(BOOK), "key-2")
    again = acting.actions.book("acme", BookRequest.model_validate(BOOK), "key-2")
    assert again.replayed
    digest = hashlib.sha256(b"key-2").hexdigest()
    item = pipeline.repo.client.get_item(
        TableName=pipeline.repo.table_name, Key={"PK": {"S": f"IDEMPOTENCY#acme#{digest}"}, "SK": {"S": "IDEMPOTENCY"}}
    )["Item"]
    assert "ada" not in json.dumps(item).lower()
    assert item["status"] == {"N": "201"}


def test_through_the_real_client_and_the_fake_calendly_each_action_and_refusal(
    pipeline: Pipeline, stack: Stack
) -> None:
    # Given the connection's token (a PAT the fake Calendly issued, allowed to write scheduled events)
    import httpx

    from calsync.actions.requests import ActionRefused
    from calsync.connections.records import StoredToken
    from calsync_dev.fake_calendly import FakeCalendly

    fake = FakeCalendly()
    options = {"transport": httpx.MockTransport(fake.httpx_handler)}
    actions = compose.actions(ActionsApiSettings.from_env(), calendly_options=options)
    token = fake.add_pat(scopes="scheduled_events:write")
    compose.connections(ActionsApiSettings.from_env()).tokens.put("acme", StoredToken(kind="pat", access_token=token))
    # When booking, the same slot again, then cancelling and marking a no-show (its AWS calls recorded)
    from tests.iam import not_granted, recorded_calls

    with recorded_calls() as calls:
        booked = actions.book("acme", BookRequest.model_validate(BOOK), "k")
        replayed = actions.book("acme", BookRequest.model_validate(BOOK), "k")
        with pytest.raises(ActionRefused):
            actions.book("acme", BookRequest.model_validate(BOOK), "other")  # the slot is taken: kept under "other"
        marked = actions.mark_no_show("acme", str(replayed.booking and replayed.booking[1]), "m")
        actions.clear_no_show("acme", str(marked.booking and marked.booking[1]), None)
    # Then the function's role allows every call it made
    assert not_granted("ActionsApiFunction", calls) == []
    assert booked.booking is not None
    view = actions.view("acme", booked.booking)
    assert (view["status"], view["event_name"]) == ("active", "Booked through calsync")
    with pytest.raises(ActionRefused) as taken:
        actions.book("acme", BookRequest.model_validate(BOOK), None)
    assert (taken.value.status, taken.value.error) == (409, "slot_unavailable")
    assert actions.view("acme", actions.mark_no_show("acme", booked.booking[1], None).booking or ("", ""))["no_show"]
    canceled = actions.cancel("acme", booked.booking[1], CancelRequest(reason="moved"), None)
    assert actions.view("acme", canceled.booking or ("", ""))["cancellation"]["reason"] == "moved"
    # And a token without the write scope is a 403 naming it
    fake.token_scopes[token] = "scheduled_events:read"
    with pytest.raises(ActionRefused) as forbidden:
        actions.book("acme", BookRequest.model_validate({**BOOK, "start_time": "2026-12-01T10:00:00Z"}), None)
    assert forbidden.value.status == 403
    assert "scheduled_events:write" in forbidden.value.message


def test_idempotency_records_claim_wait_take_over_keep_and_release(pipeline: Pipeline, stack: Stack) -> None:
    from calsync.actions.aws_actions import DynamoIdempotency
    from calsync.actions.idempotency import LEASE_SECONDS, TTL_SECONDS
    from calsync.actions.requests import Answer

    store = DynamoIdempotency(pipeline.repo.table_name, pipeline.repo.client)
    # Given a claimed key
    assert store.claim("acme", "k", "print-1", now=1000) is None
    # Then a second claim sees it running, with its fingerprint
    running = store.claim("acme", "k", "print-1", now=1001)
    assert running is not None
    assert (running.fingerprint, running.status) == ("print-1", None)
    # And once its lease has passed (its request died), it is taken over
    assert store.claim("acme", "k", "print-1", now=1000 + LEASE_SECONDS + 1) is None
    # When its answer is kept, a claim returns it; another connection's same key is free
    store.keep("acme", "k", Answer(201, ("EV1", "IN1")), now=1100)
    kept = store.claim("acme", "k", "print-1", now=1200)
    assert kept is not None
    assert (kept.status, kept.booking) == (201, ("EV1", "IN1"))
    assert store.claim("globex", "k", "print-1", now=1200) is None
    # And a kept refusal comes back with its body; a released key is free; an expired one too
    store.keep("globex", "k", Answer(409, body={"error": "slot_unavailable", "message": "taken"}), now=1200)
    refused = store.claim("globex", "k", "print-1", now=1300)
    assert refused is not None
    assert (refused.status, refused.body) == (409, {"error": "slot_unavailable", "message": "taken"})
    store.release("globex", "k")
    assert store.claim("globex", "k", "print-2", now=1300) is None
    assert (
        store.claim("acme", "k", "print-3", now=1000 + LEASE_SECONDS + 1 + TTL_SECONDS + 1) is None
    )  # a day after its claim
