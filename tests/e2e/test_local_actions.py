"""Acting through calsync on the local stack, as the README's tour shows it: a PAT connection
to the fake Calendly, then ``calsync book`` (a signed POST on the actions route, run by the
ActionsApiFunction as the template wires it), ``calsync no-show`` and ``calsync cancel``;
each prints the booking as stored, and the read API then shows the same."""

from __future__ import annotations

import json

import pytest

from calsync_dev import cli
from calsync_dev.cli.target import Target
from calsync_dev.signed_api import call
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

BOOK = [
    "book", "--connection-id", "demo", "--event-type", "ET-DEMO", "--start", "2026-12-10T15:00:00Z",
    "--name", "Ada Lovelace", "--email", "ada@example.com", "--timezone", "Europe/London",
    "--answer", "What would you like to see?=The API", "--idempotency-key", "tour-1",
]  # fmt: skip


def test_book_mark_and_cancel_through_the_local_api(
    local_stack: RunningStack, target: Target, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a connection to the fake Calendly
    monkeypatch.setenv("CALENDLY_PAT", "pat-local-actions")
    assert cli.main(["connect", "pat", "--connection-id", "demo"]) == 0
    capsys.readouterr()
    # When a booking is made through the API
    assert cli.main(BOOK) == 0
    booked = json.loads(capsys.readouterr().out)
    # Then it is stored and answered as the read API shows it
    assert booked["status"] == "active"
    assert booked["email"] == "ada@example.com"
    assert booked["start_time"] == "2026-12-10T15:00:00Z"
    url = f"http://127.0.0.1:{local_stack.api_port}/v1/connections/demo/bookings/{booked['invitee_uuid']}"
    assert call("GET", url).json() == booked
    # And the same command again (same key) answers the same booking; a new key finds the slot taken
    assert cli.main(BOOK) == 0
    assert json.loads(capsys.readouterr().out)["invitee_uuid"] == booked["invitee_uuid"]
    assert cli.main([*BOOK[:-2], "--idempotency-key", "tour-2"]) == 1
    assert "409 slot_unavailable" in capsys.readouterr().err
    # And a no-show, then a cancel, each answered with the booking as stored
    assert cli.main(["no-show", "--connection-id", "demo", booked["invitee_uuid"]]) == 0
    assert json.loads(capsys.readouterr().out)["no_show"] is not None
    assert cli.main(["cancel", "--connection-id", "demo", booked["invitee_uuid"], "--reason", "moved"]) == 0
    canceled = json.loads(capsys.readouterr().out)
    assert canceled["status"] == "canceled"
    assert canceled["cancellation"]["reason"] == "moved"
