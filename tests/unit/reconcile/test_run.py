"""A run under a budget: every HTTP request counts (retries too), a run that stops leaves a
cursor, and the next run resumes there — even among events that start at the same time."""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from calsync.aws import keys
from calsync.calendly.client import CalendlyClient
from calsync.intake.delivery import Delivery
from calsync.intake.routing import QueueKind
from calsync.reconcile import scheduled as service
from calsync.reconcile.budget import Budget
from calsync.reconcile.report import RECENT, UPCOMING, Cursor, Report, Window, scheduled_windows
from calsync.reconcile.run import Reconciler
from calsync_dev.fake_calendly import FakeCalendly
from tests.factories import event_json
from tests.fakes.intake import FakeDeliveryQueue
from tests.fakes.reconcile import FakeReconcileState, FakeStoredBookings

START = datetime(2026, 12, 1, tzinfo=UTC)
WINDOW = Window("upcoming", START, START + timedelta(days=30))


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
) -> tuple[Any, list[tuple[QueueKind, Delivery]], Budget]:
    budget = Budget.for_run(calls, 600, wait=lambda _: None)
    client = CalendlyClient(
        lambda: "pat-x", transport=httpx.MockTransport(fake.httpx_handler), on_request=budget.spend, sleep=budget.sleep
    )
    fake.accept_any_pat = True
    sent = FakeDeliveryQueue()
    extra = {"is_erased": is_erased} if is_erased else {}
    reconciler = Reconciler(calendly=client, stored=FakeStoredBookings(), queue=sent, budget=budget, **extra)
    report = reconciler.run(
        connection_id="acme",
        organization=fake.organization,
        windows=[WINDOW],
        reason="manual",
        cursors=[cursor] if cursor else (),
    )
    return report, sent.sent, budget


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
    report = Reconciler(calendly=client, stored=FakeStoredBookings(), queue=FakeDeliveryQueue(), budget=budget).run(
        connection_id="acme", organization=fake.organization, windows=[WINDOW], reason="manual"
    )
    assert report.stopped == "time"
    assert report.cursor == Cursor("upcoming", START)
    assert fake.calls == []


# ------------------------------------------------------------------ each window its own cursor
def state_of(saved: Mapping[str, Any] | None = None) -> FakeReconcileState:
    """The reconcile state of a registered connection ``acme``, holding ``saved`` as its cursor."""
    state = FakeReconcileState()
    state.table.put(keys.connection("acme"), {"type": "connection", "connection_id": "acme"})
    state.save_cursor("acme", saved)
    return state


NOW = datetime(2026, 12, 3, tzinfo=UTC)  # bookings(n): event 0 (Dec 2) is recent, the others upcoming


def scheduled_run(fake: FakeCalendly, calls: int, state: FakeReconcileState) -> Report:
    budget = Budget.for_run(calls, 600, wait=lambda _: None)
    client = CalendlyClient(
        lambda: "pat-x", transport=httpx.MockTransport(fake.httpx_handler), on_request=budget.spend, sleep=budget.sleep
    )
    fake.accept_any_pat = True
    reconciler = Reconciler(calendly=client, stored=FakeStoredBookings(), queue=FakeDeliveryQueue(), budget=budget)
    return service.scheduled(
        reconciler,
        state,
        connection_id="acme",
        organization=fake.organization,
        windows=scheduled_windows(NOW, upcoming_days=30, recent_days=7),
    )


def by_name(report: Report, name: str) -> Any:
    (window,) = [w for w in report.windows if w.name == name]
    return window


def test_every_run_covers_the_recent_window_even_while_upcoming_needs_several_runs() -> None:
    # Given one recent booking and four upcoming ones, and runs of 5 calls each (too few for all:
    # recent takes 2, the routing forms 1, upcoming's list 1, then one event's invitees)
    fake = bookings(5)
    state = state_of()
    reports = []
    # When scheduled runs follow one another until one is complete
    while not reports or not reports[-1].complete:
        reports.append(scheduled_run(fake, 5, state))
        assert len(reports) < 10, "the reconcile never finishes"
    # Then it took several runs, and every one of them covered the recent window (its no-shows)
    assert len(reports) > 1
    assert all(by_name(r, RECENT).covered for r in reports)
    # And the upcoming window resumed where the run before stopped: each event seen once
    upcoming_seen = sum(r.counts["events_seen"] for r in reports) - len(reports)
    assert upcoming_seen == 4
    assert all(by_name(r, UPCOMING).coverage == "partial" for r in reports[:-1])
    assert state.cursor("acme") is None


def test_a_run_stopped_in_the_recent_window_keeps_where_upcoming_stopped() -> None:
    # Given upcoming stopped after its first event (Dec 3) in an earlier run
    fake = bookings(5)
    state = state_of()
    first = scheduled_run(fake, 5, state)
    assert by_name(first, UPCOMING).coverage == "partial"
    # When a run runs out of calls in the recent window
    stopped = scheduled_run(fake, 1, state)
    assert by_name(stopped, RECENT).coverage == "partial"
    # Then the next full run resumes upcoming where the first stopped: the 3 events left, not 4
    last = scheduled_run(fake, 100, state)
    assert last.complete
    assert by_name(last, UPCOMING).resumed_from is not None
    assert last.counts["events_seen"] == 1 + 3


def test_a_cursor_stored_in_the_old_one_window_format_is_resumed() -> None:
    # Given a cursor stored before each window had its own: upcoming done up to Dec 4, 15:00
    fake = bookings(5)
    state = state_of({"window": "upcoming", "after": "2026-12-04T15:00:00.000000Z", "done": []})
    # When the next run starts
    report = scheduled_run(fake, 100, state)
    # Then recent is covered whole and upcoming resumed from there (Dec 4, 5, 6)
    assert report.complete
    assert by_name(report, UPCOMING).resumed_from == datetime(2026, 12, 4, 15, tzinfo=UTC)
    assert report.counts["events_seen"] == 1 + 3


@pytest.mark.parametrize("saved", [{"nonsense": 1}, {"cursors": "x"}, {"window": "upcoming", "after": "yesterday"}])
def test_a_stored_cursor_that_cannot_be_read_is_ignored_and_the_windows_covered_whole(saved: dict[str, Any]) -> None:
    report = scheduled_run(bookings(5), 100, state_of(saved))
    assert report.complete
    assert report.counts["events_seen"] == 5


# ------------------------------------------------------------------ one unreadable event
def refusing(fake: FakeCalendly, event: str, answer: httpx.Response) -> httpx.MockTransport:
    """The fake, except that listing ``event``'s invitees always answers ``answer``."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == f"/scheduled_events/{event}/invitees":
            return answer
        response: httpx.Response = fake.httpx_handler(request)
        return response

    return httpx.MockTransport(handle)


def run_over(
    transport: httpx.MockTransport, calls: int = 100, cursor: Cursor | None = None
) -> tuple[Report, list[tuple[QueueKind, Delivery]]]:
    budget = Budget.for_run(calls, 600, wait=lambda _: None)
    client = CalendlyClient(lambda: "pat-x", transport=transport, on_request=budget.spend, sleep=budget.sleep)
    sent = FakeDeliveryQueue()
    report = Reconciler(calendly=client, stored=FakeStoredBookings(), queue=sent, budget=budget).run(
        connection_id="acme",
        organization=FakeCalendly().organization,
        windows=[WINDOW],
        reason="manual",
        cursors=[cursor] if cursor else (),
    )
    return report, sent.sent


UNREADABLE = {
    "403": httpx.Response(403, json={"title": "Permission Denied", "message": "not allowed"}),
    "404": httpx.Response(404, json={"title": "Resource Not Found", "message": "gone"}),
    "bad body": httpx.Response(200, json={"collection": [{"uri": 5}], "pagination": {}}),
}


@pytest.mark.parametrize("answer", UNREADABLE.values(), ids=UNREADABLE.keys())
def test_an_event_whose_invitees_cannot_be_read_is_counted_unreadable_and_passed(answer: httpx.Response) -> None:
    # Given three events, the second of which Calendly refuses to list the invitees of
    fake = bookings(3)
    fake.accept_any_pat = True
    # When a run covers the window
    report, sent = run_over(refusing(fake, "EVENT00000000001", answer))
    # Then the other two are reconciled, the second counted unreadable, and the window covered
    assert report.counts["unreadable"] == 1
    assert report.counts["events_seen"] == 2
    assert len(sent) == 2
    assert report.complete
    assert report.as_dict()["unreadable"] == 1


def test_an_unreadable_event_does_not_stop_the_runs_after_it() -> None:
    # Given a run stopped (out of calls) just before an event whose invitees answer 404
    fake = bookings(3)
    fake.accept_any_pat = True
    transport = refusing(fake, "EVENT00000000001", UNREADABLE["404"])
    first, _ = run_over(transport, calls=2)
    assert first.cursor is not None
    # When the next run resumes there
    second, sent = run_over(transport, cursor=first.cursor)
    # Then it moves past the event and covers the rest
    assert second.complete
    assert (second.counts["unreadable"], second.counts["events_seen"], len(sent)) == (1, 1, 1)


TRANSIENT = {
    "503": httpx.Response(503, json={"title": "Service Unavailable", "message": "later"}),
    "401": httpx.Response(401, json={"title": "Unauthenticated", "message": "token expired"}),
    "429": httpx.Response(
        429, json={"title": "Too Many Requests", "message": "slow"}, headers={"X-RateLimit-Reset": "1"}
    ),
}


@pytest.mark.parametrize("answer", TRANSIENT.values(), ids=TRANSIENT.keys())
def test_a_refusal_that_may_pass_later_still_stops_the_run_at_the_event(answer: httpx.Response) -> None:
    # Given three events, listing the second's invitees answered with an error that may pass
    fake = bookings(3)
    fake.accept_any_pat = True
    # When a run covers the window
    report, sent = run_over(refusing(fake, "EVENT00000000001", answer), calls=30)
    # Then it stops in front of that event (the next run retries it), nothing counted unreadable
    assert report.stopped is not None
    assert report.cursor is not None
    assert report.cursor.done == ("https://api.calendly.com/scheduled_events/EVENT00000000000",)
    assert report.counts["unreadable"] == 0
    assert len(sent) == 1


def test_a_cursor_past_its_window_s_end_starts_the_window_over() -> None:
    # Given upcoming's cursor lies beyond the window's end (the window was shortened since)
    state = state_of({"cursors": [{"window": "upcoming", "after": "2027-06-01T00:00:00.000000Z", "done": []}]})
    # When the next run starts
    report = scheduled_run(bookings(5), 100, state)
    # Then upcoming is covered from its start, not skipped
    assert report.complete
    assert report.counts["events_seen"] == 5
