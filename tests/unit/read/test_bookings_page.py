"""A connection's bookings a page at a time (``calsync.read.bookings``) over the in-memory
``FakeTenantBookings``: pages and their cursors, the query's 400s naming the parameter."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync import timefmt
from calsync.read.bookings import BookingsQuery, QueryError, bookings_page
from tests.fakes.read import FakeTenantBookings

KEY = b"k" * 32
BASE = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _booking(n: int, *, status: str = "active", email: str = "ada@example.com") -> dict[str, Any]:
    start = BASE + timedelta(hours=n)
    return {
        "event_uuid": f"EV{n:04d}",
        "invitee_uuid": f"IN{n:04d}",
        "status": status,
        "email": email,
        "name": f"Invitee {n}",
        "start_time": timefmt.iso_z(start),
        "end_time": timefmt.iso_z(start + timedelta(minutes=30)),
        "event_name": "Demo",
        "event_type": "https://api.calendly.com/event_types/ET1",
        "tracking": {"utm_source": "newsletter"},
        "v": "2026-11-30T10:00:00.000000Z#1",
        "tenant": "acme",
    }


def _store(count: int, connection_id: str = "acme") -> FakeTenantBookings:
    port = FakeTenantBookings()
    for n in range(count):
        port.add(connection_id, _booking(n, status="canceled" if n % 10 == 9 else "active"))
    return port


def _page(port: FakeTenantBookings, connection_id: str = "acme", **params: object) -> dict[str, Any]:
    return bookings_page(connection_id, BookingsQuery.parse(params), port, KEY)


def test_pages_of_fifty_then_the_rest_then_no_cursor() -> None:
    # Given 120 bookings of connection acme
    port = _store(120)
    # When they are read with the default limit, following next_cursor
    first = _page(port)
    second = _page(port, cursor=first["next_cursor"])
    third = _page(port, cursor=second["next_cursor"])
    # Then pages of 50, 50, 20 in start order, each booking once, and no cursor after the last
    assert [len(p["bookings"]) for p in (first, second, third)] == [50, 50, 20]
    uuids = [b["invitee_uuid"] for p in (first, second, third) for b in p["bookings"]]
    assert uuids == [f"IN{n:04d}" for n in range(120)]
    assert third["next_cursor"] is None
    assert port.calls[0]["limit"] == 50


def test_a_booking_shows_what_the_api_promises() -> None:
    # Given one stored booking
    port = _store(1)
    # When its page is read
    (booking,) = _page(port)["bookings"]
    # Then it carries the fields, its version as text, and nothing of the store's own
    assert booking == {
        "invitee_uuid": "IN0000",
        "event_uuid": "EV0000",
        "status": "active",
        "start_time": "2026-12-01T09:00:00Z",
        "end_time": "2026-12-01T09:30:00Z",
        "event_name": "Demo",
        "event_type": "https://api.calendly.com/event_types/ET1",
        "name": "Invitee 0",
        "email": "ada@example.com",
        "no_show": None,
        "cancellation": None,
        "rescheduled_from": None,
        "rescheduled_to": None,
        "tracking": {"utm_source": "newsletter"},
        "version": "2026-11-30T10:00:00.000000Z#1",
    }


def test_filters_narrow_the_pages_and_their_cursor_follows() -> None:
    # Given 120 bookings, every tenth canceled
    port = _store(120)
    # When the canceled ones in a window are read two at a time
    params = {
        "status": "canceled",
        "start_after": timefmt.iso_z(BASE),
        "start_before": timefmt.iso_z(BASE + timedelta(hours=100)),
        "limit": "2",
    }
    first = _page(port, **params)
    rest = _page(port, **(params | {"cursor": first["next_cursor"], "limit": "100"}))
    # Then only those come back, in order, across both pages
    uuids = [b["invitee_uuid"] for p in (first, rest) for b in p["bookings"]]
    assert uuids == [f"IN{n:04d}" for n in range(9, 100, 10)]
    assert rest["next_cursor"] is None


def test_the_cursor_shows_no_table_key() -> None:
    # Given a page that has a next one
    text = _page(_store(3), limit="1")["next_cursor"]
    # Then its cursor names no key of the table, in clear or decoded
    decoded = base64.urlsafe_b64decode(text.split(".")[0] + "==").decode()
    for shown in (text, decoded):
        assert not any(word in shown for word in ("PK", "SK", "GSI", "EVENT#", "TENANT#", "EMAIL#", "INVITEE#"))
    assert "ada@example.com" not in decoded


def _flip(text: str, at: int) -> str:
    return text[:at] + ("A" if text[at] != "A" else "B") + text[at + 1 :]


@pytest.mark.parametrize("at", [0, 10, -1, -5])
def test_a_tampered_cursor_is_a_400_on_cursor(at: int) -> None:
    # Given a genuine cursor with one character changed
    port = _store(3)
    text = _page(port, limit="1")["next_cursor"]
    # When it is used
    # Then the query fails on the cursor parameter, without reading the store
    with pytest.raises(QueryError) as caught:
        _page(port, limit="1", cursor=_flip(text, at % len(text)))
    assert caught.value.parameter == "cursor"
    assert len(port.calls) == 1


@pytest.mark.parametrize("garbage", ["", "x", "!!!.!!!", "a.b.c", "é.é", "e30.", "e30.AAAA"])
def test_garbage_for_a_cursor_is_a_400(garbage: str) -> None:
    with pytest.raises(QueryError) as caught:
        _page(_store(3), cursor=garbage)
    assert caught.value.parameter == "cursor"


def test_another_connections_cursor_is_refused() -> None:
    # Given a cursor issued while reading connection beta
    port = _store(3, "beta")
    port.add("acme", _booking(0))
    text = _page(port, "beta", limit="1")["next_cursor"]
    # When it is used on acme
    # Then it is a 400 naming the cursor
    with pytest.raises(QueryError) as caught:
        _page(port, "acme", limit="1", cursor=text)
    assert (caught.value.parameter, caught.value.message) == ("cursor", "issued for another connection")


def test_a_cursor_reused_with_other_filters_is_refused() -> None:
    # Given a cursor from a query for active bookings
    port = _store(30)
    text = _page(port, status="active", limit="1")["next_cursor"]
    # When it is reused for canceled ones (or with no status filter)
    # Then each is a 400 naming the cursor
    for status in ("canceled", None):
        params: dict[str, object] = {"limit": "1", "cursor": text}
        if status:
            params["status"] = status
        with pytest.raises(QueryError) as caught:
            _page(port, **params)
        assert caught.value.message == "issued for a query with other filters"


def test_the_page_size_may_change_between_pages() -> None:
    port = _store(5)
    text = _page(port, limit="2")["next_cursor"]
    assert [b["invitee_uuid"] for b in _page(port, limit="3", cursor=text)["bookings"]] == [
        "IN0002",
        "IN0003",
        "IN0004",
    ]


@pytest.mark.parametrize("limit", [0, 101, "0", "101", "abc", "", "1.5", 1.5, True, None, "-1"])
def test_a_limit_outside_1_to_100_is_a_400_on_limit(limit: object) -> None:
    with pytest.raises(QueryError) as caught:
        BookingsQuery.parse({"limit": limit})
    assert caught.value.parameter == "limit"
    assert caught.value.as_json()["error"] == "bad_request"


@pytest.mark.parametrize("limit", ["1", "100", 50])
def test_a_limit_from_1_to_100_is_taken(limit: object) -> None:
    assert 1 <= BookingsQuery.parse({"limit": limit}).limit <= 100


@pytest.mark.parametrize("after_hours", [0, 1])
def test_start_after_not_before_start_before_is_a_400(after_hours: int) -> None:
    with pytest.raises(QueryError) as caught:
        BookingsQuery.parse(
            {
                "start_after": timefmt.iso_z(BASE + timedelta(hours=after_hours)),
                "start_before": timefmt.iso_z(BASE),
            }
        )
    assert caught.value.parameter == "start_before"


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("start_after", "2026-12-01T09:00:00"),  # no zone
        ("start_after", "yesterday"),
        ("start_before", "9" * 5000),
        ("start_after", "0001-01-01T00:00:00+01:00"),  # before year 1 in UTC
        ("start_before", "9999-12-31T23:59:59-01:00"),  # after year 9999 in UTC
        ("status", "gone"),
        ("status", "ACTIVE"),
        ("email", "no-at-sign"),
        ("email", "@example.com"),
        ("email", "x" * 250 + "@example.com"),
        ("cursor", "c" * 2049),
        ("unknown", "1"),
    ],
)
def test_bad_parameters_are_400s_naming_them(parameter: str, value: str) -> None:
    with pytest.raises(QueryError) as caught:
        BookingsQuery.parse({parameter: value})
    assert caught.value.parameter == parameter
    assert caught.value.message


def test_times_with_any_zone_are_read_as_utc() -> None:
    query = BookingsQuery.parse({"start_after": "2026-12-01T11:00:00+02:00"})
    assert query.start_after == BASE


@pytest.mark.parametrize(
    ("email", "outcome"),
    [
        ("ÄDA@Exämple.com", "found"),
        ("😀@example.com", "none"),
        ("ada@例え.jp", "none"),
        ("ａｄａ@example.com", "none"),  # full width
        ("äda@exämple.com\n", "found"),  # stripped
        ("a\u0000da@example.com", 400),  # NUL
        ("a\u200bda@example.com", 400),  # zero-width space
        ("a\ud800da@example.com", 400),  # lone surrogate
        ("a\u202eda@example.com", 400),  # right-to-left override
        ("ä da@example.com", 400),
    ],
)
def test_odd_unicode_in_email_is_found_or_a_400_never_a_crash(email: str, outcome: object) -> None:
    # Given a stored booking under an address with letters beyond ASCII
    port = FakeTenantBookings()
    port.add("acme", _booking(0, email="äda@exämple.com"))
    # When bookings are asked for by an odd address
    # Then the answer is a page (with the booking or without) or a 400 naming the email
    if outcome == 400:
        with pytest.raises(QueryError) as caught:
            _page(port, email=email)
        assert caught.value.parameter == "email"
    else:
        found = [b["invitee_uuid"] for b in _page(port, email=email)["bookings"]]
        assert found == (["IN0000"] if outcome == "found" else [])


def test_an_address_is_matched_stripped_and_in_lower_case() -> None:
    port = FakeTenantBookings()
    port.add("acme", _booking(0, email="äda@exämple.com"))
    assert [b["invitee_uuid"] for b in _page(port, email="  ÄDA@Exämple.com ")["bookings"]] == ["IN0000"]


def test_a_page_shows_each_booking_as_the_single_view_does() -> None:
    # Given stored bookings with and without their optional parts, a numeric version among them
    from calsync.read.bookings import BookingView, views_json

    full = {
        "invitee_uuid": "I1",
        "event_uuid": "E1",
        "status": "canceled",
        "start_time": "2026-12-01T10:00:00Z",
        "name": "Ada",
        "email": "ada@example.com",
        "cancellation": {"canceled_by": "Grace", "reason": "ill"},
        "tracking": {"utm_source": "ads"},
        "rescheduled_to": "https://api.calendly.com/scheduled_events/E2/invitees/I2",
        "v": "2026-11-30T10:00:00.000000Z#0",
        "questions_and_answers": [{"q": "?", "a": "!"}],  # stored, not shown
    }
    bare = {"invitee_uuid": "I2", "event_uuid": "E2", "v": 3}
    # When a page shows them
    # Then each is what BookingView shows for it alone
    assert views_json([full, bare]) == [BookingView.from_stored(i).model_dump(mode="json") for i in (full, bare)]
    assert views_json([bare])[0]["version"] == "3"
    assert views_json([]) == []
