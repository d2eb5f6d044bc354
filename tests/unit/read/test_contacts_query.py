"""``GET /v1/connections/{connection_id}/contacts``'s query: the same address rules as the bookings' ``email``."""

from __future__ import annotations

import pytest

from calsync.read.bookings import QueryError
from calsync.read.kinds import ContactsQuery


@pytest.mark.parametrize(
    "email", ["ada\u200b@example.com", "ada\u202e@example.com", "ada\x00@example.com", "ada @example.com", "ada", "@x"]
)
def test_an_odd_or_invisible_character_in_email_is_a_400_naming_email(email: str) -> None:
    # Given an address with an invisible, control or space character (or no address at all)
    # When the query is parsed
    with pytest.raises(QueryError) as refused:
        ContactsQuery.parse({"email": email})
    # Then it is refused naming the parameter, never searched for
    assert refused.value.parameter == "email"


def test_a_plain_address_is_searched_lower_case() -> None:
    assert ContactsQuery.parse({"email": " Ada@Example.COM "}).email == "ada@example.com"
