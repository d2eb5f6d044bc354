"""The fake Calendly lists scheduled events and invitees as Calendly does: paginated, filtered
by organization and start time, reschedule pairs, cancellations, no-shows, group events; and
it can answer 429 with X-RateLimit-Reset."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from calsync.calendly.client import CalendlyClient
from calsync_dev.fake_calendly import FakeCalendly
from tests.factories import event_json


def group_event(fake: FakeCalendly, invitees: int) -> None:
    for n in range(invitees):
        text = json.dumps(event_json("invitee_created.json")["payload"]).replace("INVITEE00000001", f"GUEST{n:08d}")
        fake.add_booking(json.loads(text))


def get(fake: FakeCalendly, path: str) -> httpx.Response:
    fake.accept_any_pat = True
    with httpx.Client(transport=httpx.MockTransport(fake.httpx_handler), base_url=fake.api_base) as client:
        return client.get(path, headers={"Authorization": "Bearer pat-x"})


def test_invitees_of_a_group_event_come_in_pages_of_count() -> None:
    # Given a group event with 5 invitees
    fake = FakeCalendly()
    group_event(fake, 5)
    # When listed 2 at a time, following next_page_token
    path, pages = "/scheduled_events/DEMOEVENT0000001/invitees?count=2", []
    while path:
        body = get(fake, path).json()
        pages.append([i["uri"][-8:] for i in body["collection"]])
        token = body["pagination"]["next_page_token"]
        assert (token is None) == (body["pagination"]["next_page"] is None)
        path = f"/scheduled_events/DEMOEVENT0000001/invitees?count=2&page_token={token}" if token else ""
    # Then 3 pages hold every invitee once
    assert [len(p) for p in pages] == [2, 2, 1]
    assert sorted(uri for page in pages for uri in page) == [f"{n:08d}" for n in range(5)]


def test_a_count_over_100_is_refused_as_calendly_does() -> None:
    assert get(FakeCalendly(), "/scheduled_events/DEMOEVENT0000001/invitees?count=101").status_code == 400


def test_the_client_reads_every_page_of_every_kind_of_booking() -> None:
    # Given a reschedule pair, a canceled booking, a no-show and a group event
    fake = FakeCalendly()
    for name in ("invitee_no_show_created.json", "invitee_rescheduled_canceled_old.json"):
        fake.add_booking(event_json(name)["payload"])
    fake.add_booking(event_json("invitee_rescheduled_created_new.json")["payload"])
    group_event(fake, 149)  # Ada's event (DEMOEVENT0000001) is a group event: 150 invitees in all
    fake.accept_any_pat = True
    client = CalendlyClient(lambda: "pat-x", transport=httpx.MockTransport(fake.httpx_handler))
    # When the client lists them in a start-time window
    events = list(
        client.list_scheduled_events(
            organization=fake.organization,
            min_start_time=datetime(2026, 12, 1, tzinfo=UTC),
            max_start_time=datetime(2026, 12, 2, 23, tzinfo=UTC),
        )
    )
    # Then the window holds the group event and the rescheduled one (not the new one, Dec 3)
    assert [e.uri[-16:] for e in events] == ["DEMOEVENT0000001", "DEMOEVENT0000002"]
    group = list(client.list_event_invitees(events[0].uri))
    assert len(group) == 150
    assert sum(1 for i in group if i.no_show is not None) == 1
    (old,) = client.list_event_invitees(events[1].uri)
    assert (old.status, old.rescheduled, old.new_invitee is not None) == ("canceled", True, True)
    assert ("GET", "/scheduled_events/DEMOEVENT0000001/invitees") in fake.calls
    # And another organization's list is empty
    assert list(client.list_scheduled_events(organization="https://api.calendly.com/organizations/OTHER")) == []


@pytest.mark.parametrize("every", [1, 3])
def test_it_answers_429_with_x_ratelimit_reset_when_asked(every: int) -> None:
    fake = FakeCalendly(rate_limit_every=every, rate_limit_reset=2)
    answers = [get(fake, "/users/me") for _ in range(3)]
    limited = [a for a in answers if a.status_code == 429]
    assert len(limited) == 3 // every
    assert all(a.headers["X-RateLimit-Reset"] == "2" for a in limited)


def test_rate_limiting_is_armed_over_its_local_control_endpoint() -> None:
    fake = FakeCalendly()
    fake.handle("POST", "/_fake/rate-limit", {}, b'{"every": 1, "reset": 0}')
    assert get(fake, "/users/me").status_code == 429
    fake.handle("POST", "/_fake/rate-limit", {}, b'{"every": 0}')
    assert get(fake, "/users/me").status_code == 200
