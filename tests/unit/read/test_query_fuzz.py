"""Any query string is a page or a 400 naming a parameter, never a crash: Hypothesis varies
every parameter's text (odd Unicode, lone surrogates, huge values, cursors of any shape)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.read.bookings import BookingsQuery, QueryError, bookings_page
from calsync.read.cursor import fingerprint
from tests.fakes.read import FakeTenantBookings

PARAMETERS = ("start_after", "start_before", "status", "email", "limit", "cursor", "other")
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=300),
    st.sampled_from(
        [
            "active",
            "canceled",
            "50",
            "2026-12-01T09:00:00Z",
            "a@b.c",
            "a\ud800@b.c",
            "e30.AAAA",
            "0001-01-01T00:00:00+01:00",
        ]
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=st.dictionaries(st.sampled_from(PARAMETERS), TEXT, max_size=len(PARAMETERS)))
def test_any_query_is_a_page_or_a_400_naming_a_parameter(params: dict[str, str]) -> None:
    # Given an empty connection
    port = FakeTenantBookings()
    # When its bookings are asked for with these parameters
    refused: QueryError | None = None
    page = None
    try:
        query = BookingsQuery.parse(params)
        page = bookings_page("acme", query, port, b"k" * 32)
    except QueryError as exc:
        refused = exc
    # Then it is a page, or a refusal naming one of the parameters given
    if refused is None:
        assert page == {"bookings": [], "next_cursor": None}
        # and every filter it accepted can reach the store and a cursor (valid UTF-8)
        assert json.dumps(query.filters(), ensure_ascii=False).encode()
        assert fingerprint(query.filters())
    else:
        assert refused.parameter in params
        assert refused.message
