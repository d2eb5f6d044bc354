"""The scheduled jobs fanned out on the local stack (docs/scale.md): with ~200 connections, each
job's schedule dispatches one unit per connection to its work queue and the workers (the same
functions, polling through the queue's event source) finish every one of them."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import RunningStack, new_stack, wait_for
from tests.e2e.test_local_connections import run_schedule

pytestmark = pytest.mark.e2e

CONNECTIONS = int(os.environ.get("CALSYNC_E2E_FANOUT_CONNECTIONS", "200"))
# Measured with 4 workers a queue on a 2-core machine at load average ~17: 200 watchdog units in
# 82 s, 200 reconciles in 86 s (the moto server is one core and every unit makes ~10-40 AWS calls);
# generous, since the test proves completion, not speed.
WAIT_SECONDS = 240


@pytest.fixture(scope="module")
def fanout_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """A stack of its own whose work queues run 4 workers each (FanOutMaximumConcurrency)."""
    stack = new_stack(tmp_path_factory.mktemp("fanout"))
    stack.extra_env = {"CALSYNC_LOCAL_FANOUT_CONCURRENCY": "4", "CALSYNC_LOCAL_BATCHES_PER_QUEUE": "4"}
    stack.start()
    yield stack
    try:
        stack.stop()
    finally:
        stack.kill()


def test_each_jobs_fan_out_completes_for_two_hundred_connections(
    fanout_stack: RunningStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    local_stack, target = fanout_stack, fanout_stack.target(monkeypatch)
    # Given 200 connected organizations (personal access tokens, the fake Calendly's subscriptions)
    services = target.connections()
    ids = [f"fan{n:03d}" for n in range(CONNECTIONS)]

    begun = time.monotonic()

    def connect(cid: str) -> None:
        services.connector().connect_pat(
            connection_id=cid,
            personal_access_token=f"pat-{cid}",
            calendly_for=services.calendly_with_token,
            api_base=target.api_base,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(connect, ids))
    print(f"connected {CONNECTIONS} in {time.monotonic() - begun:.1f} s")
    registry = services.registry
    started = time.monotonic()
    # When the watchdog's schedule fires
    watched = run_schedule(local_stack, "SubscriptionWatchdogFunction")
    # Then its dispatch listed every connection and sent one unit each, and counted them by health
    assert watched["listed"] >= CONNECTIONS
    assert watched["sent"] >= CONNECTIONS
    assert watched["health"]["active"] >= CONNECTIONS

    # And the workers check every one of them
    def checked() -> int:
        return sum(1 for c in registry.all() if c.connection_id in ids and c.subscription_healthy_at)

    deadline = time.monotonic() + WAIT_SECONDS
    while (done := checked()) < CONNECTIONS and time.monotonic() < deadline:
        time.sleep(1)
    print(f"watchdog: {done} of {CONNECTIONS} checked after {time.monotonic() - started:.1f} s")
    assert done == CONNECTIONS, [line for line in local_stack.lines if "rror" in line][-5:]
    # When the reconciler's schedule fires, every connection gets its scheduled reconcile's report
    reconciled = run_schedule(local_stack, "ReconcilerFunction")
    assert reconciled["sent"] >= CONNECTIONS
    state = target.reconciling().state
    reconciling = time.monotonic()
    wait_for(
        lambda: all(state.reports(cid, limit=1) for cid in ids),
        timeout=WAIT_SECONDS,
        every=3.0,
        what="every connection's scheduled reconcile report",
    )
    print(f"reconcile: {CONNECTIONS} reports after {time.monotonic() - reconciling:.1f} s")
    # And the refresher's dispatch lists them all and sends nothing (personal tokens do not expire)
    refreshed = run_schedule(local_stack, "TokenRefresherFunction")
    assert refreshed["listed"] >= CONNECTIONS
    assert refreshed["sent"] == 0
    # And no unit was dead-lettered
    sqs = local_stack.client("sqs")
    dead = [url for url in sqs.list_queues().get("QueueUrls", []) if "WorkDLQ" in url]
    assert len(dead) == 3
    for url in dead:
        depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0", url
    print(f"fan-out of {CONNECTIONS} connections: watchdog + reconcile done in {time.monotonic() - started:.1f} s")
