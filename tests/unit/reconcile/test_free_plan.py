"""A Free plan's 50 requests a minute: a reconcile stopped by the connection's shared Calendly
budget (``RateLimited``: the window is spent) keeps what it did, like a run out of calls, so
the next run resumes instead of starting over (and never getting past the first window's
worth of requests)."""

from __future__ import annotations

from typing import Any

import httpx

from calsync.calendly.client import CalendlyClient
from calsync.connections.budget import RateLimited
from calsync.reconcile.budget import Budget
from calsync.reconcile.report import Cursor, Report
from calsync.reconcile.run import Reconciler
from tests.fakes.intake import FakeDeliveryQueue
from tests.fakes.reconcile import FakeStoredBookings
from tests.unit.reconcile.test_run import WINDOW, bookings


def run(fake: Any, window_room: int, cursor: Cursor | None = None) -> tuple[Report, int]:
    """A run whose connection budget has ``window_room`` requests left in this minute."""
    budget = Budget.for_run(250, 600, wait=lambda _: None)  # ReconcileApiCalls' default
    spent = 0

    def before_call() -> None:
        nonlocal spent
        if spent >= window_room:
            raise RateLimited("acme", 55.0, "api")
        spent += 1
        budget.spend()

    client = CalendlyClient(
        lambda: "pat-x", transport=httpx.MockTransport(fake.httpx_handler), on_request=before_call, sleep=budget.sleep
    )
    fake.accept_any_pat = True
    sent = FakeDeliveryQueue()
    report = Reconciler(calendly=client, stored=FakeStoredBookings(), queue=sent, budget=budget).run(
        connection_id="acme",
        organization=fake.organization,
        windows=[WINDOW],
        reason="scheduled",
        cursors=[cursor] if cursor else (),
    )
    return report, len(sent.sent)


def test_a_run_stopped_by_the_free_plans_rate_budget_resumes_where_it_stopped() -> None:
    # Given five events and a connection whose minute has room for three requests
    fake = bookings(5)
    # When a run starts (1 list + 1 invitee list per event)
    first, sent_first = run(fake, 3)
    # Then it stopped with a cursor, keeping what it did, and says why
    assert first.cursor is not None
    assert first.stopped is not None
    assert first.windows[0].coverage == "partial"
    # When the next run starts (a minute later: the window has room again)
    second, sent_second = run(fake, 45, first.cursor)
    # Then it covers only what was left, and every event was delivered once
    assert second.complete
    assert sent_first + sent_second == 5
