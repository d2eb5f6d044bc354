"""A run under a budget: every HTTP request counts (retries too), a run that stops leaves a
cursor, and the next run resumes there — even among events that start at the same time."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from calsync.calendly.client import CalendlyClient
from calsync.reconcile.budget import Budget
from calsync.reconcile.ports import StoredInvitee
from calsync.reconcile.report import Cursor, Window
from calsync.reconcile.run import Reconciler
from calsync.webhooks.delivery import Delivery
from calsync.webhooks.routing import QueueKind
from calsync_dev.fake_calendly import FakeCalendly
from tests.factories import event_json

START = datetime(2026, 12, 1, tzinfo=UTC)
WINDOW = Window("upcoming", START, START + timedelta(days=30))


class NothingStored:
    def invitees_of(self, event_uri: str) -> Mapping[str, StoredInvitee]:
        return {}


class Sent(list[tuple[QueueKind, Delivery]]):
    def send(self, kind: QueueKind, delivery: Delivery) -> None:
        self.append((kind, delivery))


def bookings(count: int, *, same_start: bool = False) -> FakeCalendly:
    """``count`` one-invitee events (all at one start time when ``same_start``)."""
    fake = FakeCalendly()
    for n in range(count):
        text = json.dumps(event_json("invitee_created.json")["payload"])
        text = text.replace("DEMOEVENT0000001", f"EVENT{n:011d}").replace("INVITEE00000001", f"INVITEE{n:08d}")
        if not same_start:
            text = text.replace("2026-12-01T15:", f"2026-12-{2 + n:02d}T15:")
        fake.add_booking(json.loads(text))
    return fake


def run(
    fake: FakeCalendly, calls: int, cursor: Cursor | None = None, is_erased: Any = None
) -> tuple[Any, Sent, Budget]:
    budget = Budget.for_run(calls, 600, wait=lambda _: None)
    client = CalendlyClient(
        lambda: "pat-x", transport=httpx.MockTransport(fake.httpx_handler), on_request=budget.spend, sleep=budget.sleep
    )
    fake.accept_any_pat = True
    sent = Sent()
    extra = {"is_erased": is_erased} if is_erased else {}
    reconciler = Reconciler(calendly=client, stored=NothingStored(), queue=sent, budget=budget, **extra)
    report = reconciler.run(
        connection_id="acme", organization=fake.organization, windows=[WINDOW], reason="manual", cursor=cursor
    )
    return report, sent, budget


def test_every_request_counts_including_a_429_retry() -> None:
    # Given Calendly answers every second request 429
    fake = bookings(2)
    fake.rate_limit_every = 2
    # When a run lists two events (1 list + 2 invitee lists = 3 answered requests)
    report, sent, budget = run(fake, 100)
    # Then the 429s were retried and counted
    assert fake.rate_limited == 2  # the 2nd and 4th requests
    assert report.api_calls == budget.calls == 3 + fake.rate_limited
    assert len(sent) == 2


def test_a_run_out_of_calls_stops_with_a_cursor_and_the_next_resumes_there() -> None:
    # Given three events and a budget of 3 calls (the list, then one event's invitees, then out)
    fake = bookings(3)
    first, sent_first, _ = run(fake, 3)
    assert first.cursor is not None
    assert first.counts["events_seen"] == 2
    assert first.windows[0].coverage == "partial"
    # When the next run starts from the cursor
    second, sent_second, _ = run(fake, 100, first.cursor)
    # Then it covers only what was left, and the window is covered
    assert second.complete
    assert second.windows[0].resumed_from == first.cursor.after
    assert second.counts["events_seen"] == 1
    assert len(sent_first) + len(sent_second) == 3


def test_events_at_the_same_start_time_are_resumed_without_repeats() -> None:
    # Given five events all starting at the same time, and runs of 3 calls each
    fake = bookings(5, same_start=True)
    cursor, seen, runs = None, 0, 0
    while True:
        report, _, _ = run(fake, 3, cursor)
        seen += report.counts["events_seen"]
        runs += 1
        cursor = report.cursor
        if report.complete:
            break
        assert runs < 10
    # Then every event was seen exactly once
    assert seen == 5
    assert runs > 1


def test_an_erased_person_is_counted_and_not_delivered() -> None:
    fake = bookings(2)
    erased_at = datetime(2026, 11, 25, tzinfo=UTC)
    report, sent, _ = run(
        fake, 100, is_erased=lambda email, created: email == "ada@example.com" and created < erased_at
    )
    assert report.counts["erased"] == 2
    assert report.counts["repaired"] == 0
    assert sent == []


def test_a_run_out_of_time_stops_before_sending_the_request() -> None:
    fake = bookings(1)
    # Given the run's ten seconds are over before its first request
    clock = itertools.chain([0.0], itertools.repeat(100.0))
    budget = Budget.for_run(100, 10, clock=lambda: next(clock))
    client = CalendlyClient(lambda: "pat-x", transport=httpx.MockTransport(fake.httpx_handler), on_request=budget.spend)
    fake.accept_any_pat = True
    report = Reconciler(calendly=client, stored=NothingStored(), queue=Sent(), budget=budget).run(
        connection_id="acme", organization=fake.organization, windows=[WINDOW], reason="manual"
    )
    assert report.stopped == "time"
    assert report.cursor == Cursor("upcoming", START)
    assert fake.calls == []
