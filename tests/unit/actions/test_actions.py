"""The actions' use cases with in-memory ports: each stores the result as its webhook would,
each Calendly refusal is a clear answer, and an Idempotency-Key makes a retry answer the first result."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from calsync.actions.act import Actions
from calsync.actions.requests import ActionRefused, BookRequest, CancelRequest, parse_body
from calsync.calendly.bodies import ErrorDetail
from calsync.calendly.errors import (
    CalendlyAuthError,
    CalendlyConflict,
    CalendlyError,
    CalendlyNotFound,
    CalendlyPermissionError,
    CalendlyRateLimited,
    CalendlyUnavailable,
)
from calsync.connections.records import Connection
from calsync.errors import DependencyUnavailable
from tests.fakes.actions import FakeActionBookings, FakeCalendlyAccess, FakeIdempotency, FakeScheduling, now
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.connections import FakeRegistry

BOOK = {
    "event_type": "ET1",
    "start_time": "2026-12-03T15:00:00+01:00",
    "invitee": {"name": "Ada Lovelace", "email": "Ada@Example.com", "timezone": "Europe/London"},
    "answers": [{"question": "Topic?", "answer": "Engines"}],
}


class World:
    def __init__(self, status: str = "active") -> None:
        self.repo = FakeBookingsRepository()
        self.registry = FakeRegistry(self.repo.table)
        self.registry.register(
            Connection("acme", "pat", status, "org", None, "https://cb", "tok", "sk"),  # type: ignore[arg-type]
            now="2026-11-01T00:00:00Z",
        )
        self.calendly = FakeScheduling(now())
        self.idempotency = FakeIdempotency()
        self.actions = Actions(
            connections=self.registry,
            calendly=FakeCalendlyAccess(self.calendly),
            repository=self.repo,
            bookings=FakeActionBookings(self.repo.table),
            idempotency=self.idempotency,
            archive_ttl=timedelta(days=90),
            clock=now,
        )

    def book(self, key: str | None = None, **changes: Any) -> tuple[int, dict[str, Any]]:
        answer = self.actions.book("acme", BookRequest.model_validate({**BOOK, **changes}), key)
        assert answer.booking is not None
        return answer.status, self.actions.view("acme", answer.booking)


def test_booking_is_made_in_calendly_and_stored_as_its_webhook_would_be() -> None:
    # Given a connection
    world = World()
    # When a booking is made
    status, booking = world.book()
    # Then Calendly was asked with the event type's URI, an UTC start and the invitee
    assert world.calendly.calls == ["create_invitee", "get_scheduled_event"]
    assert status == 201
    # And the booking is stored (the email as calsync keeps addresses), with its event's facts
    assert booking["status"] == "active"
    assert booking["email"] == "ada@example.com"
    assert booking["start_time"] == "2026-12-03T14:00:00Z"
    assert booking["event_name"] == "Intro call"
    assert booking["event_type"] == "https://api.calendly.com/event_types/ET1"
    assert booking["version"]


def test_calendly_body_carries_the_answers_in_order() -> None:
    request = BookRequest.model_validate(BOOK)
    body = request.calendly_body()
    assert body["event_type"] == "https://api.calendly.com/event_types/ET1"
    assert body["start_time"] == "2026-12-03T14:00:00Z"
    assert body["invitee"] == {"name": "Ada Lovelace", "email": "ada@example.com", "timezone": "Europe/London"}
    assert body["questions_and_answers"] == [{"question": "Topic?", "answer": "Engines", "position": 0}]


@pytest.mark.parametrize(
    ("raw", "parameter"),
    [
        (b"not json", "body"),
        (b"[]", "body"),
        (b'{"event_type": "ET1"}', "start_time"),
        (b'{"event_type": "ET1", "start_time": "2026-12-03T15:00:00", "invitee": {}}', "start_time"),
        (
            b'{"event_type": "a b", "start_time": "2026-12-03T15:00:00Z", '
            b'"invitee": {"name": "A", "email": "a@b.c", "timezone": "UTC"}}',
            "event_type",
        ),
        (
            b'{"event_type": "ET1", "start_time": "2026-12-03T15:00:00Z", '
            b'"invitee": {"name": "A", "email": "nope", "timezone": "UTC"}}',
            "invitee.email",
        ),
        (
            b'{"event_type": "ET1", "start_time": "2026-12-03T15:00:00Z", "surprise": 1, '
            b'"invitee": {"name": "A", "email": "a@b.c", "timezone": "UTC"}}',
            "surprise",
        ),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(raw: bytes, parameter: str) -> None:
    with pytest.raises(ActionRefused) as refused:
        parse_body(BookRequest, raw)
    assert (refused.value.status, refused.value.parameter) == (400, parameter)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (CalendlyConflict(409, "Conflict", "The selected time is no longer available."), 409, "slot_unavailable"),
        (CalendlyError(422, "Unprocessable", "Event type is inactive"), 422, "calendly_refused"),
        (CalendlyPermissionError(403, "Permission Denied", "Please upgrade"), 403, "calendly_forbidden"),
        (CalendlyNotFound(404, "Resource Not Found", "No event type"), 404, "not_found"),
        (CalendlyRateLimited(429, "Too Many Requests", "slow down", retry_after=12.2), 429, "rate_limited"),
        (CalendlyUnavailable(None, "Network error", "ConnectError"), 503, "calendly_unavailable"),
        (CalendlyAuthError(401, "Unauthenticated", "bad token"), 409, "reauthorization_required"),
    ],
)
def test_each_calendly_refusal_is_a_clear_answer(error: CalendlyError, status: int, code: str) -> None:
    # Given Calendly refuses the booking
    world = World()
    world.calendly.fail["create_invitee"] = error
    # When booking
    with pytest.raises(ActionRefused) as refused:
        world.book()
    # Then the answer says why, and nothing was stored
    assert (refused.value.status, refused.value.error) == (status, code)
    assert not any(k.pk.startswith("EVENT#") for k in world.repo.table.items)
    if status == 429:
        assert refused.value.retry_after == 13
    if status == 403:
        assert "scheduled_events:write" in refused.value.message


def test_calendly_400_names_the_parameter_in_the_actions_terms() -> None:
    world = World()
    details = [ErrorDetail.model_validate({"parameter": "questions_and_answers", "message": "required"})]
    world.calendly.fail["create_invitee"] = CalendlyError(400, "Invalid Argument", "bad", details)
    with pytest.raises(ActionRefused) as refused:
        world.book()
    assert (refused.value.status, refused.value.parameter) == (400, "answers")


def test_an_unknown_or_disconnected_connection_is_404_and_one_needing_reauth_409() -> None:
    world = World(status="reauth_required")
    with pytest.raises(ActionRefused) as refused:
        world.book()
    assert refused.value.status == 409
    with pytest.raises(ActionRefused) as missing:
        world.actions.book("nobody", BookRequest.model_validate(BOOK), None)
    assert missing.value.status == 404
    assert world.calendly.calls == []


def test_a_replay_under_the_same_key_answers_the_first_result_without_booking_again() -> None:
    world = World()
    first = world.book(key="k-1")
    again = world.actions.book("acme", BookRequest.model_validate(BOOK), "k-1")
    assert again.replayed
    assert again.status == 201
    assert again.booking is not None
    assert world.actions.view("acme", again.booking) == first[1]
    assert world.calendly.calls.count("create_invitee") == 1


def test_the_same_key_with_another_request_is_a_422() -> None:
    world = World()
    world.book(key="k-1")
    with pytest.raises(ActionRefused) as refused:
        world.book(key="k-1", start_time="2026-12-04T15:00:00Z")
    assert (refused.value.status, refused.value.error) == (422, "idempotency_key_reused")


def test_a_lasting_refusal_is_replayed_and_a_passing_one_is_retried() -> None:
    world = World()
    world.calendly.fail["create_invitee"] = CalendlyConflict(409, "Conflict", "taken")
    with pytest.raises(ActionRefused):
        world.book(key="taken")
    replay = world.actions.book("acme", BookRequest.model_validate(BOOK), "taken")
    assert (replay.status, replay.body["error"], replay.replayed) == (409, "slot_unavailable", True)
    # A 503 releases its key: the retry books
    world.calendly.fail["create_invitee"] = CalendlyUnavailable(503, "Down", "down")
    with pytest.raises(ActionRefused):
        world.book(key="down")
    status, _ = world.book(key="down")
    assert status == 201


def test_once_calendly_booked_a_store_failure_does_not_book_twice_on_retry() -> None:
    world = World()
    world.repo.table.check = _fail_on("upsert_invitee")  # type: ignore[method-assign]
    with pytest.raises(DependencyUnavailable):
        world.book(key="k-2")
    world.repo.table.check = lambda operation: None  # type: ignore[method-assign]
    retry = world.actions.book("acme", BookRequest.model_validate(BOOK), "k-2")
    assert retry.status == 201
    assert retry.replayed
    assert world.calendly.calls.count("create_invitee") == 1
    assert retry.booking is not None
    assert world.actions.view("acme", retry.booking)["invitee_uuid"] == retry.booking[1]


def _fail_on(name: str) -> Any:
    def check(operation: str) -> None:
        if operation == name:
            raise DependencyUnavailable("table down")

    return check


def test_cancel_cancels_in_calendly_and_stores_the_cancellation() -> None:
    world = World()
    _, booking = world.book()
    answer = world.actions.cancel("acme", booking["invitee_uuid"], CancelRequest(reason="ill"), None)
    assert answer.status == 200
    assert answer.booking is not None
    view = world.actions.view("acme", answer.booking)
    assert view["status"] == "canceled"
    assert view["cancellation"]["reason"] == "ill"
    # Cancelling again is a clear 409, Calendly not asked
    with pytest.raises(ActionRefused) as refused:
        world.actions.cancel("acme", booking["invitee_uuid"], CancelRequest(), None)
    assert (refused.value.status, refused.value.error) == (409, "already_canceled")
    assert world.calendly.calls.count("cancel_scheduled_event") == 1


def test_cancel_of_an_unknown_booking_is_404() -> None:
    world = World()
    with pytest.raises(ActionRefused) as refused:
        world.actions.cancel("acme", "NOPE", CancelRequest(), None)
    assert refused.value.status == 404


def test_no_show_is_marked_then_cleared() -> None:
    world = World()
    _, booking = world.book()
    marked = world.actions.mark_no_show("acme", booking["invitee_uuid"], None)
    assert marked.booking is not None
    view = world.actions.view("acme", marked.booking)
    assert view["no_show"]["uri"].startswith("https://api.calendly.com/invitee_no_shows/")
    cleared = world.actions.clear_no_show("acme", booking["invitee_uuid"], None)
    assert cleared.booking is not None
    assert world.actions.view("acme", cleared.booking)["no_show"] is None
    assert world.calendly.calls[-1] == "delete_invitee_no_show"


def test_clearing_a_no_show_that_is_not_marked_is_409() -> None:
    world = World()
    _, booking = world.book()
    with pytest.raises(ActionRefused) as refused:
        world.actions.clear_no_show("acme", booking["invitee_uuid"], None)
    assert (refused.value.status, refused.value.error) == (409, "not_marked")
