"""Dispatching scheduled work: one unit per connection, paginated, batched, spread."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from calsync.connections.records import Connection
from calsync.errors import DependencyUnavailable
from calsync.fanout.dispatch import (
    REFRESH_SAFETY_SECONDS,
    REFRESH_SPREAD_SECONDS,
    Dispatcher,
    DispatchIncomplete,
    health_of,
)
from calsync.fanout.memory import MemoryPages, MemoryQueue
from calsync.fanout.ports import BATCH_LIMIT
from calsync.fanout.work import Job, Message, WorkUnit

NOW = 1_800_000_000.0


def connection(i: int, **changes: object) -> Connection:
    base = Connection(
        connection_id=f"c{i:06d}",
        kind="oauth",
        status="active",
        organization=f"https://api.calendly.com/organizations/o{i}",
        owner=None,
        callback_url=f"https://hooks.example/webhooks/calendly/c{i:06d}",
        token_secret=f"calsync/test/tokens/c{i:06d}",
        signing_key_secret=f"calsync/test/signing-keys/c{i:06d}",
        token_expires_at=int(NOW) + 600,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def dispatcher(connections: list[Connection], job: Job, queue: MemoryQueue | None = None) -> Dispatcher:
    return Dispatcher(MemoryPages(connections), queue or MemoryQueue(lambda: NOW), job, clock=lambda: NOW)


def test_every_connection_of_ten_thousand_gets_exactly_one_unit_over_pages_and_batches() -> None:
    # Given 10,001 active connections (more than a hundred pages)
    connections = [connection(i) for i in range(10_001)]
    queue = MemoryQueue(lambda: NOW)
    pages = MemoryPages(connections)
    # When the watchdog's dispatcher runs
    done = Dispatcher(pages, queue, Job.WATCHDOG, clock=lambda: NOW).dispatch("run-1")
    # Then each connection has one unit, sent ten to a batch, listed a page at a time
    ids = Counter(WorkUnit.from_body(m.body).connection_id for m in queue.messages)
    assert len(ids) == 10_001
    assert set(ids.values()) == {1}
    assert done.sent == done.listed == 10_001
    assert queue.calls == done.batches == -(-10_001 // BATCH_LIMIT)
    assert pages.reads == done.pages == 101
    assert done.unsent == []


def test_removed_and_reauth_connections_get_no_watchdog_or_reconcile_unit() -> None:
    connections = [connection(1), connection(2, status="removed"), connection(3, status="reauth_required")]
    for job in (Job.WATCHDOG, Job.RECONCILE):
        queue = MemoryQueue(lambda: NOW)
        dispatcher(connections, job, queue).dispatch("r")
        assert [WorkUnit.from_body(m.body).connection_id for m in queue.messages] == ["c000001"]


def test_refresh_dispatches_only_tokens_expiring_soon_each_before_its_expiry() -> None:
    # Given tokens expiring in 20 min, 44 min, 2 h, unknown, and a PAT
    connections = [
        connection(1, token_expires_at=int(NOW) + 20 * 60),
        connection(2, token_expires_at=int(NOW) + 44 * 60),
        connection(3, token_expires_at=int(NOW) + 2 * 3600),
        connection(4, token_expires_at=None),
        connection(5, kind="pat", token_expires_at=None),
    ]
    queue = MemoryQueue(lambda: NOW)
    # When the refresher dispatches
    dispatcher(connections, Job.REFRESH, queue).dispatch("r")
    # Then the two due ones and the unknown one have units, each visible before its expiry's margin
    visible = {WorkUnit.from_body(m.body).connection_id: m.visible_at for m in queue.messages}
    assert set(visible) == {"c000001", "c000002", "c000004"}
    for i, c in enumerate(connections[:2], start=1):
        assert c.token_expires_at is not None
        assert visible[f"c{i:06d}"] <= c.token_expires_at - REFRESH_SAFETY_SECONDS


def test_ten_thousand_refreshes_due_together_are_spread_over_the_quarter_hour() -> None:
    # Given 10,000 tokens that all expire in 40 minutes (connected in the same minute)
    connections = [connection(i, token_expires_at=int(NOW) + 40 * 60) for i in range(10_000)]
    # When the refresher dispatches them
    done = dispatcher(connections, Job.REFRESH).dispatch("r")
    # Then no minute gets more than a little over its fair share (10,000 / 14 minutes)
    per_minute = Counter(delay // 60 for delay in done.delays)
    assert len(per_minute) == REFRESH_SPREAD_SECONDS // 60
    assert max(per_minute.values()) < 1.15 * 10_000 / len(per_minute)


def test_the_same_connection_gets_the_same_offset_on_every_run() -> None:
    connections = [connection(i, token_expires_at=int(NOW) + 40 * 60) for i in range(50)]
    first = dispatcher(connections, Job.REFRESH).dispatch("a").delays
    again = dispatcher(connections, Job.REFRESH).dispatch("b").delays
    assert first == again


def test_refused_entries_are_sent_again_and_what_never_goes_is_raised_for() -> None:
    # Given a queue that refuses c000003 once and c000007 always, and a failed call once
    refusals: Counter[str] = Counter()
    failed_call = {"once": True}

    class Flaky(MemoryQueue):
        def send_batch(self, messages: list[Message]) -> list[str]:
            if failed_call.pop("once", False):
                raise DependencyUnavailable("sqs:SendMessageBatch throttled")
            return super().send_batch(messages)

    def refuse(message: Message) -> bool:
        cid = WorkUnit.from_body(message.body).connection_id
        refusals[cid] += 1
        return cid == "c000007" or (cid == "c000003" and refusals[cid] == 1)

    queue = Flaky(lambda: NOW, refuse=refuse)
    connections = [connection(i) for i in range(12)]
    # When the dispatch runs
    done = dispatcher(connections, Job.RECONCILE, queue).dispatch("r")
    # Then everything but c000007 went exactly once, and the dispatch says it was incomplete
    sent = Counter(WorkUnit.from_body(m.body).connection_id for m in queue.messages)
    assert set(sent) == {f"c{i:06d}" for i in range(12)} - {"c000007"}
    assert set(sent.values()) == {1}
    assert done.unsent == ["c000007"]
    with pytest.raises(DispatchIncomplete):
        Dispatcher.raise_for_unsent(done)


def test_connections_are_counted_by_health_for_the_dashboard() -> None:
    connections = [
        connection(1),
        connection(2, status="reauth_required"),
        connection(3, status="removed"),
        connection(4, last_check_error={"reason": "calendly_error", "at": "2026-12-05T00:00:00Z"}),
        connection(5, gap_reconcile={"noticed_at": "2026-12-05T01:00:00Z"}, subscription_healthy_at=None),
        connection(
            6, gap_reconcile={"noticed_at": "2026-12-05T01:00:00Z"}, subscription_healthy_at="2026-12-05T02:00:00Z"
        ),
    ]
    done = dispatcher(connections, Job.WATCHDOG).dispatch("r")
    assert done.summary()["health"] == {"active": 2, "reauth_required": 1, "failing_subscription": 2, "removed": 1}
    assert health_of(connections[0]) == "active"
