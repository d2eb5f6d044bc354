"""The event types' reconcile: a scheduled run lists ``GET /event_types`` (paginated, each page
one call of the connection's budget) and sends what it lists through the normal queue, which
the processor stores version-aware: a rename the webhooks missed is repaired, an unchanged event
type is a duplicate, a newer stored one is untouched."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from calsync.aws import keys
from calsync.bookings.apply import apply_delivery
from calsync.calendly.client import CalendlyClient
from calsync.intake.routing import QueueKind
from calsync.reconcile.budget import Budget
from calsync.reconcile.event_types import sync_event_types
from calsync_dev.fake_calendly import FakeCalendly
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.intake import FakeDeliveryQueue

EXAMPLE = Path(__file__).resolve().parents[2] / "fixtures/calendly/api/event_types_list__calendly_openapi_example.json"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def calendly(count: int) -> FakeCalendly:
    """An organization with ``count`` event types shaped as Calendly's documented example."""
    fake = FakeCalendly(accept_any_pat=True)
    example = json.loads(EXAMPLE.read_text())["collection"][0]
    for n in range(count):
        uri = f"https://api.calendly.com/event_types/ET{n:014d}"
        fake.event_types[uri] = {**example, "uri": uri, "name": f"Type {n:03d}"}
    return fake


def sync(fake: FakeCalendly, calls: int) -> tuple[FakeDeliveryQueue, Budget, str | None]:
    budget = Budget.for_run(calls, 600, wait=lambda _: None)
    client = CalendlyClient(
        lambda: "pat-x", transport=httpx.MockTransport(fake.httpx_handler), on_request=budget.spend, sleep=budget.sleep
    )
    queue = FakeDeliveryQueue()
    done = sync_event_types(client, queue, connection_id="acme", organization=fake.organization, now=lambda: NOW)
    return queue, budget, done.stopped


def test_every_event_type_is_sent_page_by_page_within_the_budget() -> None:
    # Given 150 event types (two pages of 100)
    queue, budget, stopped = sync(calendly(150), calls=10)
    # Then all are sent to the other queue as event_type.updated, in two calls
    assert stopped is None
    assert budget.calls == 2
    assert len(queue.sent) == 150
    assert {kind for kind, _ in queue.sent} == {QueueKind.OTHER}
    assert {d.event for _, d in queue.sent} == {"event_type.updated"}
    # And with a budget of one call, the pass stops after the first page, saying why
    queue, _, stopped = sync(calendly(150), calls=1)
    assert len(queue.sent) == 100
    assert stopped == "api calls"


def test_a_missed_rename_is_repaired_and_an_unchanged_event_type_changes_nothing() -> None:
    fake = calendly(1)
    uri = next(iter(fake.event_types))
    repo = FakeBookingsRepository()
    stored = keys.resource("event_type", "acme", "ET00000000000000")

    def reconcile() -> list[bool]:
        queue, _, _ = sync(fake, calls=5)
        return [apply_delivery(d, repo, now=NOW, archive_ttl=timedelta(days=1)).changed for _, d in queue.sent]

    assert reconcile() == [True]
    assert reconcile() == [False]  # the same API state: a duplicate
    fake.event_types[uri] = {**fake.event_types[uri], "name": "Renamed", "updated_at": "2026-11-30T10:00:00.000000Z"}
    assert reconcile() == [True]
    assert (repo.table.item(stored) or {})["name"] == "Renamed"


def test_the_fake_calendly_takes_event_types_locally_and_lists_only_the_organizations() -> None:
    fake = FakeCalendly(accept_any_pat=True)
    example = json.loads(EXAMPLE.read_text())["collection"][0]
    status, _ = fake.handle("POST", f"{fake.api_base}/_fake/event_types", {}, json.dumps(example).encode())
    assert status == 201
    auth = {"authorization": "Bearer pat-x"}
    status, page = fake.handle("GET", f"{fake.api_base}/event_types?organization={fake.organization}", auth, b"")
    assert (status, [e["name"] for e in page["collection"]]) == (200, ["15 Minute Meeting"])
    status, page = fake.handle("GET", f"{fake.api_base}/event_types?organization=https://x/other", auth, b"")
    assert page["collection"] == []
