"""Faults on the local stack (``calsync_dev.local.faults``): AWS failing under the receiver
and the processors, a processor dying mid-batch, the emulator restarted with saved state.
Each ends with every delivery that got a 2xx stored exactly once, checked against the
table (archive items, bookings per invitee, final states) by the soak's own check.

(A poison record → DLQ → ``calsync dlq redrive`` → applied is in test_local_stack.py.)
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from calsync.aws import clients
from calsync_dev.cli.send import post_signed, queued
from calsync_dev.cli.target import Target
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.local.faults import Faults
from calsync_dev.soak import SoakResult, send_all, soak
from calsync_dev.soak_scenarios import check, scenario
from tests.e2e.conftest import RunningStack, wait_for

pytestmark = pytest.mark.e2e

WRITES = ("PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem", "DeleteItem")


@pytest.fixture
def faults(local_stack: RunningStack) -> Iterator[Faults]:
    kit = Faults(f"http://127.0.0.1:{local_stack.api_port}")
    kit.clear()
    yield kit
    kit.clear()


def test_sqs_send_failures_answer_503_enqueue_nothing_and_the_senders_retry_is_accepted(
    local_stack: RunningStack, target: Target, faults: Faults
) -> None:
    # Given SQS fails as many SendMessage calls as the receiver's SDK makes attempts for one
    run = uuid.uuid4().hex[:8]
    booking = scenario("created", run, 0)
    (body,) = booking.bodies
    faults.arm("sqs", ["SendMessage"], error="ServiceUnavailable", count=clients.RECEIVER.attempts)
    # When a signed delivery arrives
    status, answer = post_signed(local_stack.webhook_url, body, DEFAULT_LOCAL_KEY)
    # Then the receiver answers 503 so the sender retries, after trying SQS that often
    assert (status, answer["error"]) == (503, "unavailable")
    assert [rule["remaining"] for rule in faults.rules()] == [0]
    # And nothing was enqueued or stored
    assert queued(target) == 0
    assert check(target, [booking], {body}, run).lost
    # When the sender retries
    assert post_signed(local_stack.webhook_url, body, DEFAULT_LOCAL_KEY)[0] == 202
    # Then the delivery is stored, exactly once
    wait_for(lambda: queued(target) == 0 and not check(target, [booking], {body}, run).lost, what="the retry")
    verdict = check(target, [booking], {body}, run)
    assert (verdict.lost, verdict.double_applied, verdict.archived) == ([], [], 1)


def test_dynamodb_throttling_in_the_processors_is_retried_and_each_delivery_applied_once(
    local_stack: RunningStack, target: Target, faults: Faults
) -> None:
    # Given DynamoDB throttles the next 15 writes (more than the SDK's own retries absorb)
    faults.arm("dynamodb", WRITES, error="ProvisionedThroughputExceededException", count=15)
    # When 60 deliveries of every kind arrive, with duplicates, out of order
    result = soak(local_stack.webhook_url, target, count=60, rate=30, max_seconds=240, seed=9, out=lambda _: None)
    # Then every throttled write was retried (the rule is used up) and everything accepted
    # is stored exactly once, in its newest state
    assert [rule["remaining"] for rule in faults.rules()] == [0]
    assert result.sent.accepted_count == 60
    assert result.drained
    assert (result.verdict.lost, result.verdict.double_applied) == ([], [])


def test_a_processor_killed_mid_batch_loses_nothing_and_applies_each_delivery_once(
    local_stack: RunningStack, target: Target, faults: Faults
) -> None:
    run = uuid.uuid4().hex[:8]
    bookings = [scenario("created", run, n) for n in range(10)]
    bodies = [b for s in bookings for b in s.bodies]
    # Given the processors' next polls wait 4 s (so the ten deliveries below form one batch)
    # and each write takes 400 ms longer (so a batch takes many seconds)
    faults.arm("sqs", ["ReceiveMessage"], delay_ms=4000, count=5)
    faults.arm("dynamodb", WRITES, delay_ms=400, count=200)
    time.sleep(1.5)  # every event source's current long poll (1 s) ends; the next one waits
    killed: dict[str, object] = {}
    killer = threading.Thread(
        target=lambda: killed.update(faults.kill_busy("InviteeCreatedProcessor", after_ms=600, wait_seconds=60))
    )
    killer.start()
    # When ten deliveries are accepted and the processor's instance is killed 0.6 s into its batch
    sent = send_all(
        local_stack.webhook_url, DEFAULT_LOCAL_KEY, bodies, rate=50, concurrency=10, deadline=time.monotonic() + 60
    )
    assert sent.accepted_count == 10
    killer.join(90)
    assert killed.get("killed"), "no processor instance was killed"
    applied_before_kill = check(target, bookings, set(bodies), run).archived
    print(f"\nkilled {killed}, {applied_before_kill} of 10 applied before the kill")
    # Then the batch comes back (redelivered), and every delivery is stored exactly once
    wait_for(lambda: queued(target) == 0, timeout=120, what="the queues to drain")
    verdict = check(target, bookings, set(bodies), run)
    assert (verdict.lost, verdict.double_applied, verdict.archived) == ([], [], 10)
    assert applied_before_kill < 10, "the kill should land mid-batch, before the batch finished"


def test_the_emulator_restarted_with_saved_state_mid_stream_loses_nothing(
    local_stack: RunningStack, target: Target, faults: Faults
) -> None:
    # Given a stream of 120 mixed deliveries arriving
    results: list[SoakResult] = []
    started = threading.Event()

    def stream() -> None:
        results.append(
            soak(
                local_stack.webhook_url,
                target,
                count=120,
                rate=15,
                max_seconds=300,
                seed=3,
                out=lambda _: started.set(),
            )
        )

    sender = threading.Thread(target=stream)
    sender.start()
    # When, mid-stream, the emulator saves its state, stops, starts again and restores
    assert started.wait(60)
    restored = faults.restart_emulator()
    sender.join(360)
    # Then the restart restored the table, and once the senders' retries of the 503s
    # (answered while it restarted) are in, every accepted delivery is stored exactly once
    assert restored["items"] + restored["messages"] > 0
    (result,) = results
    print(f"\nrestart: {restored}; {result.summary()}")
    assert result.sent.accepted_count == 120, result.sent.statuses
    assert result.drained
    assert (result.verdict.lost, result.verdict.double_applied) == ([], [])
