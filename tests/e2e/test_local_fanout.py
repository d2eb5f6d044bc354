"""The scheduled jobs fanned out on the local stack (docs/scale.md): with ~200 connections, each
job's schedule dispatches one unit per connection to its work queue and the workers (the same
functions, polling through the queue's event source) finish every one of them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from calsync_dev.cli.target import Target
from tests.e2e.conftest import RunningStack, wait_for
from tests.e2e.test_local_connections import run_schedule

pytestmark = pytest.mark.e2e

CONNECTIONS = 200


def test_each_jobs_fan_out_completes_for_two_hundred_connections(local_stack: RunningStack, target: Target) -> None:
    # Given 200 connected organizations (personal access tokens, the fake Calendly's subscriptions)
    services = target.connections()
    ids = [f"fan{n:03d}" for n in range(CONNECTIONS)]

    def connect(cid: str) -> None:
        services.connector().connect_pat(
            connection_id=cid,
            personal_access_token=f"pat-{cid}",
            calendly_for=services.calendly_with_token,
            api_base=target.api_base,
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(connect, ids))
    registry = services.registry
    started = time.monotonic()
    # When the watchdog's schedule fires
    watched = run_schedule(local_stack, "SubscriptionWatchdogFunction")
    # Then its dispatch listed every connection and sent one unit each, and counted them by health
    assert watched["listed"] >= CONNECTIONS
    assert watched["sent"] >= CONNECTIONS
    assert watched["health"]["active"] >= CONNECTIONS

    # And the workers check every one of them
    def checked() -> bool:
        return all(c.subscription_healthy_at for c in registry.all() if c.connection_id in ids)

    wait_for(checked, timeout=45, every=0.5, what="every connection checked by the watchdog's workers")
    # When the reconciler's schedule fires, every connection gets its scheduled reconcile's report
    reconciled = run_schedule(local_stack, "ReconcilerFunction")
    assert reconciled["sent"] >= CONNECTIONS
    state = target.reconciling().state
    wait_for(
        lambda: all(state.reports(cid, limit=1) for cid in ids),
        timeout=45,
        every=1.0,
        what="every connection's scheduled reconcile report",
    )
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
