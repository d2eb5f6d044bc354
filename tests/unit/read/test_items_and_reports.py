"""One booking, one event with its invitees and a connection's latest completeness reports
(``read.bookings.get_booking``, ``read.events.get_event``, ``read.reports.latest_reports``) over
in-memory fakes: what each shows, another tenant's ids not found, and the views equal to the
published schemas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.read.bookings import BookingView, QueryError, get_booking
from calsync.read.events import EventView, get_event
from calsync.read.reports import ReportsQuery, ReportView, latest_reports
from calsync.reconcile.report import Report, WindowReport
from tests.fakes.read import FakeReports, FakeTenantItems
from tests.openapi_contract import response_schema

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
EVENT = {
    "event_uuid": "EV1",
    "name": "Demo",
    "event_type": "https://api.calendly.com/event_types/T1",
    "status": "active",
    "start_time": "2026-12-03T10:00:00Z",
    "end_time": "2026-12-03T10:30:00Z",
}


def _invitee(uuid: str, email: str) -> dict[str, Any]:
    return {"invitee_uuid": uuid, "status": "active", "email": email, "name": uuid.title(), "v": "2026-12-01#1"}


@pytest.fixture
def items() -> FakeTenantItems:
    fake = FakeTenantItems()
    fake.add("acme", EVENT, _invitee("IN2", "bo@example.com"), _invitee("IN1", "ada@example.com"))
    fake.add("other", {**EVENT, "event_uuid": "EV9"}, _invitee("IN9", "cy@example.com"))
    return fake


def test_a_booking_shows_its_invitee_and_its_events_start_name_and_type(items: FakeTenantItems) -> None:
    # Given acme's event with two invitees / When one is read by its invitee uuid
    view = get_booking(items, "acme", "IN1")
    # Then it is that booking, joined with its event
    assert view is not None
    assert (view.invitee_uuid, view.event_uuid, view.email) == ("IN1", "EV1", "ada@example.com")
    assert (view.start_time, view.event_name, view.event_type) == (EVENT["start_time"], "Demo", EVENT["event_type"])
    assert view.version == "2026-12-01#1"


def test_another_connections_booking_or_event_is_not_found(items: FakeTenantItems) -> None:
    # Given IN9 and EV9 belong to the connection "other" / Then acme finds neither, nor an unknown id
    assert get_booking(items, "acme", "IN9") is None
    assert get_event(items, "acme", "EV9") is None
    assert get_booking(items, "acme", "NOPE") is None
    assert get_booking(items, "other", "IN9") is not None


def test_an_event_comes_with_all_its_invitees_in_uuid_order(items: FakeTenantItems) -> None:
    view = get_event(items, "acme", "EV1")
    assert view is not None
    assert (view.event_uuid, view.name, view.status, view.start_time) == ("EV1", "Demo", "active", EVENT["start_time"])
    assert [i.invitee_uuid for i in view.invitees] == ["IN1", "IN2"]
    assert all(i.event_type == EVENT["event_type"] for i in view.invitees)


def _report(hours_ago: int, coverage: str = "covered") -> dict[str, Any]:
    started = NOW - timedelta(hours=hours_ago)
    window = WindowReport("upcoming", started, started + timedelta(days=30), coverage)
    report = Report("acme", "scheduled", started, [window])
    report.api_calls, report.duration_seconds = 3, 1.25
    report.counts["events_seen"] = 4
    return report.as_dict()


def test_latest_reports_are_newest_first_at_most_limit_with_their_windows() -> None:
    # Given three reports of acme, oldest first
    port = FakeReports()
    port.add("acme", _report(3), _report(2, "partial"), _report(1))
    # When the latest two are read
    found = latest_reports(port, "acme", 2)["reports"]
    # Then they are the two newest, each with its summary, duration and windows
    assert [r["started_at"] for r in found] == ["2026-12-01T08:00:00Z", "2026-12-01T07:00:00Z"]
    assert found[1]["windows"][0]["coverage"] == "partial"
    assert found[0]["duration_seconds"] == 1.25
    assert found[0]["counts"]["events_seen"] == 4
    assert found[0]["complete"] is True
    assert latest_reports(port, "nobody")["reports"] == []


def test_a_window_this_version_cannot_read_is_left_out_never_an_error() -> None:
    report = _report(1)
    report["windows"].append({"name": "odd", "start": "yesterday", "end": None, "coverage": "?"})
    view = ReportView.build(report)
    assert [w.name for w in view.windows] == ["upcoming"]


@pytest.mark.parametrize("limit", ["0", "101", "x", "1.5"])
def test_a_reports_limit_outside_1_to_100_is_a_400_naming_limit(limit: str) -> None:
    with pytest.raises(QueryError) as caught:
        ReportsQuery.parse({"limit": limit})
    assert caught.value.parameter == "limit"


@pytest.mark.parametrize(
    ("model", "path", "component"),
    [
        (EventView, "/v1/connections/{connection_id}/events/{event_uuid}", "Event"),
        (ReportView, "/v1/connections/{connection_id}/reports", "Report"),
        (BookingView, "/v1/connections/{connection_id}/bookings/{invitee_uuid}", "BookingView"),
    ],
)
def test_each_view_has_the_published_schemas_fields(model: Any, path: str, component: str) -> None:
    # Given the contract's schema (Report's is its summary's and its own parts)
    schema = response_schema("GET", path, 200)["components"]["schemas"][component]
    fields: set[str] = set(schema.get("properties", {}))
    for part in schema.get("allOf", []):
        target = part
        if "$ref" in part:
            target = response_schema("GET", path, 200)["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]]
        fields |= set(target.get("properties", {}))
    # Then the model shows exactly those fields
    assert set(model.model_fields) == fields


def test_reschedule_links_are_the_other_invitees_uuid_so_a_client_can_follow_them() -> None:
    # Given a booking stored with both reschedule links as Calendly's invitee URIs
    stored = {
        "invitee_uuid": "NEW1",
        "event_uuid": "EV2",
        "rescheduled_from": "https://api.calendly.com/scheduled_events/EV1/invitees/OLD1",
        "rescheduled_to": "https://api.calendly.com/scheduled_events/EV3/invitees/NEXT1",
    }
    # When it is shown / Then each link is the other invitee's uuid (GET …/bookings/{invitee_uuid})
    view = BookingView.from_stored(stored)
    assert (view.rescheduled_from, view.rescheduled_to) == ("OLD1", "NEXT1")
