"""Lifecycle events on the local stack, as a user sees them: `make run`, webhooks in,
`.calsync/events.jsonl` (and `calsync events tail`) out; reminders fired on demand."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from standardwebhooks.webhooks import Webhook

from calsync.lifecycle.events import DetailType
from calsync_dev import cli
from calsync_dev.cli.send import post_signed
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.schemas import schema_path
from tests.e2e.conftest import RunningStack, new_stack, wait_for
from tests.factories import meetings_ahead_of, moved, vary
from tests.integration.test_consumers import Sink

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    found = Sink()
    yield found
    found.server.shutdown()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, sink: Sink) -> Iterator[RunningStack]:
    running = new_stack(tmp_path_factory.mktemp("lifecycle"))
    running.extra_env["CALSYNC_LOCAL_FORWARD_URL"] = sink.url  # the signed forwarder, on
    running.start()
    yield running
    try:
        running.stop()
    finally:
        running.kill()


def events_file(stack: RunningStack) -> Path:
    return stack.state_file.parent / "events.jsonl"


def published(stack: RunningStack) -> list[dict[str, Any]]:
    path = events_file(stack)
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# The local stack plans reminders on the wall clock: the samples' meetings are moved a month ahead of it.
AHEAD = meetings_ahead_of(datetime.now(UTC))


def send(stack: RunningStack, body: bytes | str) -> None:
    status, _ = post_signed(stack.webhook_url, moved(body, AHEAD), DEFAULT_LOCAL_KEY)
    assert status == 202


# Ada cancels after the no-show was recorded (the sample cancellation predates the sample no-show).
LATE_CANCEL = vary("invitee_canceled.json", updated_at="2026-12-02T09:00:00.000000Z")


def test_a_booking_its_reversed_reschedule_a_no_show_and_a_cancellation_publish_exactly_the_expected_events(
    stack: RunningStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the path is announced at start
    assert any(str(events_file(stack)) in line for line in stack.lines)
    # When Ada books, Grace's reschedule arrives new half first, Ada is marked no-show, and a booking is canceled
    steps = [
        ("invitee_created.json", ["Booking Scheduled"]),
        ("invitee_rescheduled_created_new.json", []),
        ("invitee_rescheduled_canceled_old.json", ["Booking Rescheduled"]),
        ("invitee_no_show_created.json", ["Invitee No-Show Marked"]),
        (LATE_CANCEL, ["Booking Canceled"]),
    ]
    expected: list[str] = []
    for body, kinds in steps:
        send(stack, body)
        expected += kinds
        count = len(expected)
        wait_for(lambda count=count: len(published(stack)) >= count, timeout=60, what=f"events {expected}")
    # Then events.jsonl has exactly those, each valid against its schema, ids unique
    time.sleep(3)  # room for a wrong extra event to show up
    lines = published(stack)
    assert [e["detail-type"] for e in lines] == expected
    for event in lines:
        jsonschema.validate(event["detail"], json.loads(schema_path(DetailType(event["detail-type"])).read_text()))
    assert len({e["detail"]["event_id"] for e in lines}) == len(lines)
    # And the same deliveries again publish nothing
    send(stack, "invitee_created.json")
    send(stack, LATE_CANCEL)
    # (a distinct delivery after them: once its event is out, theirs would have been too)
    send(stack, "routing_form_submission_created.json")
    wait_for(lambda: len(published(stack)) > len(expected), timeout=60, what="the routing form's event")
    time.sleep(3)
    assert [e["detail-type"] for e in published(stack)[len(expected) :]] == ["Routing Form Submitted"]
    expected.append("Routing Form Submitted")
    # And `calsync events tail` prints them
    for name, value in stack.env.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert cli.main(["events", "tail"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert [line.split()[1:3] for line in shown][:1] == [["Booking", "Scheduled"]]
    assert len(shown) == len(expected)


def test_reminders_fire_on_demand_for_bookings_still_active(stack: RunningStack) -> None:
    # Given Grace's new booking (still active) and the events so far
    before = len(published(stack))
    # When every reminder due by a year from now is fired (the meetings are a month ahead)
    due_by = (datetime.now(UTC) + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.api_port}/_local/reminders/fire-due?at={due_by}", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - the local stack
        fired = json.loads(response.read())["fired"]
    # Then the active booking's reminders published, the canceled ones said nothing
    assert fired >= 1
    new = wait_for(lambda: published(stack)[before:], timeout=30, what="reminder events")
    kinds = {e["detail-type"] for e in new}
    assert kinds <= {"Booking Starting Soon", "Booking Ended"}
    assert {e["detail"]["booking"]["status"] for e in new} == {"active"}


def test_the_forwarders_requests_verify_with_a_standard_webhooks_verifier(stack: RunningStack, sink: Sink) -> None:
    # Given the events published so far were forwarded to the local sink
    events = published(stack)
    assert events
    wait_for(lambda: len(sink.requests) >= len(events), timeout=60, what="forwarded events")
    # Then each request verifies with the forwarding secret, and carries the event's stable id
    name = "calsync/local/forward"
    secret = json.loads(stack.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"])[
        "signing_secret"
    ]
    ids = set()
    for headers, body in sink.requests:
        payload = Webhook(secret).verify(body, headers)
        assert headers["webhook-id"] == payload["data"]["event_id"]
        ids.add(payload["data"]["event_id"])
    assert {e["detail"]["event_id"] for e in events} <= ids
