"""``calsync book``, ``calsync cancel``, ``calsync no-show``: each is one signed call on its actions
route with an Idempotency-Key, printing the booking; a refusal says why and how to retry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from calsync_dev.assistant.api import ApiError
from calsync_dev.cli import actions, main


class RecordingApi:
    def __init__(self, fail: ApiError | None = None) -> None:
        self.sent: list[tuple[str, tuple[str, ...], Any, str | None]] = []
        self.fail = fail

    def send(
        self, method: str, segments: tuple[str, ...], *, body: Any = None, idempotency_key: str | None = None
    ) -> Any:
        self.sent.append((method, segments, body, idempotency_key))
        if self.fail:
            raise self.fail
        return {"invitee_uuid": "IN1", "status": "active"}


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> RecordingApi:
    recording = RecordingApi()
    monkeypatch.setattr(actions, "_api", lambda args: recording)
    return recording


def test_book_posts_the_booking_with_its_answers_and_prints_it(
    api: RecordingApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([
        "book", "--connection-id", "acme", "--event-type", "ET1", "--start", "2026-12-03T15:00:00Z",
        "--name", "Ada", "--email", "ada@example.com", "--timezone", "Europe/London",
        "--answer", "Topic?=Engines", "--idempotency-key", "k1",
    ])  # fmt: skip
    assert code == 0
    method, segments, body, key = api.sent[0]
    assert (method, segments, key) == ("POST", ("connections", "acme", "bookings"), "k1")
    assert body["invitee"] == {"name": "Ada", "email": "ada@example.com", "timezone": "Europe/London"}
    assert body["answers"] == [{"question": "Topic?", "answer": "Engines"}]
    assert json.loads(capsys.readouterr().out)["invitee_uuid"] == "IN1"


def test_cancel_and_no_show_call_their_routes_with_a_fresh_key_each(api: RecordingApi) -> None:
    assert main(["cancel", "--connection-id", "acme", "IN1", "--reason", "ill"]) == 0
    assert main(["no-show", "--connection-id", "acme", "IN1"]) == 0
    assert main(["no-show", "--connection-id", "acme", "IN1", "--clear"]) == 0
    assert [(m, s, b) for m, s, b, _ in api.sent] == [
        ("POST", ("connections", "acme", "bookings", "IN1", "cancel"), {"reason": "ill"}),
        ("POST", ("connections", "acme", "bookings", "IN1", "no-show"), None),
        ("DELETE", ("connections", "acme", "bookings", "IN1", "no-show"), None),
    ]
    keys = {key for *_, key in api.sent}
    assert len(keys) == 3
    assert None not in keys


def test_a_refusal_is_printed_with_the_key_to_retry_with(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refusing = RecordingApi(fail=ApiError("409 slot_unavailable: taken", status=409))
    monkeypatch.setattr(actions, "_api", lambda args: refusing)
    assert main(["cancel", "--connection-id", "acme", "IN1", "--idempotency-key", "again"]) == 1
    err = capsys.readouterr().err
    assert "409 slot_unavailable" in err
    assert "--idempotency-key again" in err
