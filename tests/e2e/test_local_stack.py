"""End to end over HTTP: signed webhooks into the local stack, results read back through
the AWS emulator's endpoint, as a user of `make run` would see them."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from calsync.intake.routing import QueueKind
from calsync_dev import cli
from calsync_dev.cli.bookings import find_bookings
from calsync_dev.cli.dlq import dlq_messages
from calsync_dev.cli.progress import Progress
from calsync_dev.cli.send import persisted_by_run, post_signed, queued, run_load, synthetic_bodies
from calsync_dev.cli.target import Target
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.provision import create_table, register_webhook_connection
from calsync_dev.soak import soak
from calsync_dev.template import load
from tests.e2e.conftest import RunningStack, new_stack, wait_for
from tests.factories import EVENTS, event_body, fixture_bodies, padded, vary

pytestmark = pytest.mark.e2e


def archived(stack: RunningStack, target: Target, body: bytes) -> bool:
    key = {"PK": {"S": f"DELIVERY#{hashlib.sha256(body).hexdigest()}"}, "SK": {"S": "DELIVERY"}}
    return "Item" in stack.client("dynamodb").get_item(TableName=target.table, Key=key)


def post_raw(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_every_sample_event_and_calendly_fixture_is_accepted_and_persisted(
    local_stack: RunningStack, target: Target
) -> None:
    # Given every events/ body and every real Calendly fixture
    bodies = {p.name: p.read_bytes() for p in sorted((EVENTS / "webhooks").glob("*.json"))}
    bodies.update(fixture_bodies())
    # When each is signed with the local key and POSTed to the local API
    answers = {name: post_signed(local_stack.webhook_url, body, DEFAULT_LOCAL_KEY) for name, body in bodies.items()}
    # Then every one is accepted
    assert {name: status for name, (status, _) in answers.items()} == dict.fromkeys(bodies, 202)
    # And every one is processed into the table
    for name, body in bodies.items():
        wait_for(lambda body=body: archived(local_stack, target, body), what=f"{name} to be persisted")
    # And the sample bookings read back as the README's demo shows
    by_email = {b.email: b for b in find_bookings(target) if b.email == "ada@example.com"}
    assert by_email["ada@example.com"].event_name == "Product demo"
    grace = find_bookings(target, email="grace@example.com")
    assert [b.status for b in grace] == ["canceled", "active"]
    assert grace[0].rescheduled_to == grace[1].uri


def test_a_large_delivery_is_persisted_through_the_bucket(local_stack: RunningStack, target: Target) -> None:
    # Given a signed booking of 300 KiB, over the queue's message limit
    body = padded("invitee_created.json", 300 * 1024)
    # When it is POSTed to the local API, Then it is accepted and persisted, its body kept in the bucket
    status, _ = post_signed(local_stack.webhook_url, body, DEFAULT_LOCAL_KEY)
    assert status == 202
    wait_for(lambda: archived(local_stack, target, body), what="the large delivery to be persisted")
    assert "Product demo" in {b.event_name for b in find_bookings(target, email="ada@example.com")}
    store = target.bodies()
    assert store is not None
    assert store.get(f"deliveries/{hashlib.sha256(body).hexdigest()}") == body


def test_forged_unsigned_stale_oversized_and_garbled_requests_are_rejected_and_nothing_is_enqueued(
    local_stack: RunningStack, target: Target
) -> None:
    body = vary("invitee_created.json", email="rejected@example.com")
    url = local_stack.webhook_url
    # Unsigned: API Gateway's request validator answers (the gateway response in the template)
    assert post_raw(url, body, {"Content-Type": "application/json"}) == (
        401,
        {"error": "missing_signature", "message": "Calendly-Webhook-Signature header is missing"},
    )
    # Signed with another key
    status, answer = post_signed(url, body, "not-the-key")
    assert (status, answer["error"]) == (401, "invalid_signature")
    # Replayed: a signature four minutes old
    from calsync.intake.signature import sign_header

    stale = sign_header(DEFAULT_LOCAL_KEY.encode(), body, int(time.time()) - 240)
    status, answer = post_raw(url, body, {"Content-Type": "application/json", "Calendly-Webhook-Signature": stale})
    assert (status, answer["error"]) == (401, "stale_timestamp")
    # Oversized and not JSON
    # (over what Lambda can be handed: 300 KB is accepted, test_a_large_delivery_is_persisted_through_the_bucket)
    status, answer = post_signed(url, b'{"event": "' + b"x" * 6_300_000 + b'"}', DEFAULT_LOCAL_KEY)
    assert (status, answer["error"]) == (413, "payload_too_large")
    status, answer = post_signed(url, b"{not json", DEFAULT_LOCAL_KEY)
    assert (status, answer["error"]) == (400, "invalid_json")
    # Unknown route
    status, _ = post_raw(f"http://127.0.0.1:{local_stack.api_port}/nope", b"{}", {})
    assert status == 403
    # And none of it reached the table
    time.sleep(1.5)
    assert find_bookings(target, email="rejected@example.com") == []


def restore_table(local_stack: RunningStack, target: Target) -> None:
    """The table back after an outage, with the ``local`` connection's record in it (the
    receiver looks up keys for registered connections only)."""
    dynamodb = local_stack.client("dynamodb")
    create_table(dynamodb, load()["Resources"]["BookingsTable"], target.table)
    register_webhook_connection(
        {"BOOKINGS_TABLE_NAME": target.table, "SIGNING_KEY_PREFIX": target.signing_key_prefix},
        "local",
        DEFAULT_LOCAL_KEY,
        status="reauth_required",
        dynamodb=dynamodb,
        secretsmanager=local_stack.client("secretsmanager"),
    )


@pytest.fixture
def table_outage(local_stack: RunningStack, target: Target) -> Iterator[None]:
    dynamodb = local_stack.client("dynamodb")
    dynamodb.delete_table(TableName=target.table)
    yield
    if target.table not in dynamodb.list_tables()["TableNames"]:
        restore_table(local_stack, target)


def test_a_delivery_that_keeps_failing_reaches_the_dlq_and_redrive_brings_it_back(
    local_stack: RunningStack, target: Target, table_outage: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the bookings table is gone (an outage), so processing fails every time
    (body,) = synthetic_bodies(1, "poison")
    # When a delivery is accepted
    assert post_signed(local_stack.webhook_url, body, DEFAULT_LOCAL_KEY)[0] == 202
    # Then after the queue's maxReceiveCount it is dead-lettered, not lost
    wait_for(lambda: dlq_messages(target, QueueKind.INVITEE_CREATED), timeout=60, what="the DLQ")
    assert cli.main(["dlq"]) == 0
    listing = capsys.readouterr().out
    assert "InviteeCreatedQueue" in listing
    assert "event=invitee.created" in listing
    # When the table is back and the operator redrives
    restore_table(local_stack, target)
    assert cli.main(["dlq", "redrive"]) == 0
    assert "InviteeCreatedQueue: moved 1 message(s)" in capsys.readouterr().out
    # Then the booking is stored, once, its delivery archived, and the DLQ is empty
    wait_for(lambda: find_bookings(target, email="load-poison-0@example.com"), what="the redriven booking")
    assert dlq_messages(target, QueueKind.INVITEE_CREATED) == []
    assert len(find_bookings(target, email="load-poison-0@example.com")) == 1
    assert archived(local_stack, target, body)


def test_bookings_command_lists_and_filters(local_stack: RunningStack, target: Target, capsys: Any) -> None:
    for name in ("invitee_created.json", "invitee_rescheduled_canceled_old.json"):
        assert post_signed(local_stack.webhook_url, event_body(name), DEFAULT_LOCAL_KEY)[0] == 202
    wait_for(lambda: find_bookings(target, email="grace@example.com", status="canceled"), what="grace's booking")
    wait_for(lambda: find_bookings(target, email="ada@example.com"), what="ada's booking")
    assert cli.main(["bookings", "--status", "canceled", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed
    assert {b["status"] for b in listed} == {"canceled"}
    assert cli.main(["bookings", "--email", "ada@example.com"]) == 0
    text = capsys.readouterr().out
    assert "ada@example.com" in text
    assert "grace@example.com" not in text


def test_a_thousand_concurrent_deliveries_are_all_accepted_and_persisted(
    local_stack: RunningStack, target: Target
) -> None:
    # Given 1,000 distinct signed deliveries
    bodies = synthetic_bodies(1000, "e2e")
    # When they are sent 32 at a time
    result = run_load(local_stack.webhook_url, DEFAULT_LOCAL_KEY, bodies, 32, Progress(1000, "load", enabled=False))
    # Then every one gets a 2xx
    assert result.statuses == {202: 1000}
    # And every one is persisted
    # (queue depth is cheap to ask; counting the table is a Scan, asked once the queues are empty)
    wait_for(lambda: queued(target) == 0, timeout=480, every=1, what="the queues to drain")
    wait_for(lambda: persisted_by_run(target, "e2e") == 1000, timeout=30, every=2, what="1,000 bookings")
    print(f"\n1,000 deliveries: {result.per_second:.0f} deliveries/s accepted")


def test_a_small_soak_loses_nothing_and_applies_nothing_twice(local_stack: RunningStack, target: Target) -> None:
    # (`make soak` runs the long one: calsync_dev.soak)
    # Given 200 signed deliveries of every kind, some twice, shuffled within windows
    # When they are sent at <= 40/s
    result = soak(local_stack.webhook_url, target, count=200, rate=40, max_seconds=300, seed=7, out=lambda _: None)
    print("\n" + result.summary())
    # Then all are accepted and processed: none lost, none applied twice
    assert result.sent.accepted_count == 200
    assert result.drained
    assert (result.verdict.lost, result.verdict.double_applied) == ([], [])
    assert result.verdict.archived == len(result.sent.accepted)


def test_stopping_mid_stream_loses_nothing_that_got_a_2xx(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a stack of its own, receiving a stream of deliveries
    stack = new_stack(tmp_path).start()
    try:
        bodies = synthetic_bodies(300, "stop")
        answers: dict[int, int] = {}
        halfway = threading.Event()

        def send(index: int) -> None:
            try:
                answers[index] = post_signed(stack.webhook_url, bodies[index], DEFAULT_LOCAL_KEY, timeout=60)[0]
            except OSError:
                answers[index] = 0  # refused: the stack had stopped listening
            if len(answers) >= 60:
                halfway.set()

        with ThreadPoolExecutor(max_workers=8) as pool:
            futures = [pool.submit(send, i) for i in range(len(bodies))]
            # When Ctrl-C arrives mid-stream
            halfway.wait(120)
            assert stack.stop() == 0
            for future in futures:
                future.result()
    finally:
        stack.kill()
    accepted = {json.loads(bodies[i])["payload"]["email"] for i, status in answers.items() if status == 202}
    assert 60 <= len(accepted) < len(bodies), "the stop should land mid-stream"
    # Then, started again from its saved state, every accepted delivery is there
    stack.start()
    try:
        target = stack.target(monkeypatch)
        stored = {b.email for b in find_bookings(target) if str(b.email or "").startswith("load-stop-")}
        assert accepted <= stored
    finally:
        stack.stop()
        stack.kill()
