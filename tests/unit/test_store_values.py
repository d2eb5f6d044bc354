"""What the store hands DynamoDB: JSON-shaped values with floats as exact Decimals."""

from decimal import Decimal

import pytest

from calsync.aws.dynamo import dynamo_safe, to_plain


def test_floats_become_the_decimal_they_print_as_and_come_back_as_numbers() -> None:
    # Given a payment as Calendly sends it, with floats nested in lists and objects
    payment = {"amount": 40.1, "currency": "USD", "terms": None, "lines": [1, 2.5, {"fee": 0.3}], "paid": True}
    # When it is made DynamoDB-safe
    safe = dynamo_safe(payment)
    # Then floats are exact Decimals, everything else is untouched
    assert safe == {
        "amount": Decimal("40.1"),
        "currency": "USD",
        "terms": None,
        "lines": [1, Decimal("2.5"), {"fee": Decimal("0.3")}],
        "paid": True,
    }
    # And reading it back gives the original JSON values
    assert to_plain(safe) == payment


def test_serialise_gives_what_the_boto3_serializer_gives() -> None:
    # Given values of every shape the repositories write
    from boto3.dynamodb.types import TypeSerializer

    from calsync.aws.dynamo import serialise

    values = ["", "text", None, True, False, 0, 7, 10**30, 1.5, [1, "a", None], {"a": {"b": [2.25]}}, ()]
    # When each is serialised, Then the wire shape is TypeSerializer's on the DynamoDB-safe value
    for value in values:
        assert serialise(value) == TypeSerializer().serialize(dynamo_safe(value)), value


def test_plain_item_reads_every_wire_shape_as_boto3_and_to_plain_do() -> None:
    # Given an item with every attribute type DynamoDB has, nested, as the wire carries it
    from boto3.dynamodb.types import TypeDeserializer

    from calsync.aws.dynamo import plain_item, serialise_item

    item = serialise_item(
        {
            "PK": "EVENT#E1",
            "name": "Démo ✓",
            "count": 3,
            "price": 40.1,
            "big": 12345678901234567890123456789012345678,
            "paid": False,
            "none": None,
            "raw": b"\x00\x01",
            "location": {"type": "zoom", "data": {"id": 7, "ok": True, "extra": None}, "list": [1, "x", [2.5], {}]},
            "answers": [{"q": "Team?", "a": "12", "position": 0}],
            "empty_map": {},
            "empty_list": [],
        }
    ) | {"tags": {"SS": ["a", "b"]}, "nums": {"NS": ["1", "2.5"]}, "raws": {"BS": [b"x"]}}
    # When it is read back
    # Then each value is what boto3's deserializer then to_plain give (numbers as int or float)
    expected = to_plain({k: TypeDeserializer().deserialize(v) for k, v in item.items()})
    assert plain_item(item) == expected
    assert plain_item(item)["location"]["list"] == [1, "x", [2.5], {}]
    # And a malformed value is refused as before
    with pytest.raises(TypeError):
        plain_item({"bad": {}})
    # And a chosen few attributes read back the same, absent ones left out
    from calsync.aws.dynamo import plain_attributes

    names = ("PK", "price", "location", "none", "tags", "missing")
    assert plain_attributes(item, names) == {k: expected[k] for k in names if k in expected}


def test_every_key_format_is_the_documented_one_and_reads_back_its_ids() -> None:
    from calsync.aws import keys

    # Given each item's key, Then it is spelled as the layout table says
    assert keys.event("E1") == ("EVENT#E1", "EVENT")
    assert keys.invitee("E1", "I1") == ("EVENT#E1", "INVITEE#I1")
    assert keys.submission("S1", "E1") == ("EVENT#E1", "SUBMISSION#S1")
    assert keys.submission("S1", None) == ("SUBMISSION#S1", "SUBMISSION#S1")
    assert keys.delivery("abc") == ("DELIVERY#abc", "DELIVERY")
    assert keys.quarantine("abc") == ("QUARANTINE#abc", "QUARANTINE")
    assert keys.other("meeting.x", "2026-01-01T00:00:00Z", "abc") == ("OTHER#meeting.x", "2026-01-01T00:00:00Z#abc")
    assert keys.connection("c1") == ("CONNECTIONS", "CONNECTION#c1")
    assert keys.oauth_state("st") == ("OAUTHSTATE#st", "OAUTHSTATE")
    assert keys.email_pk(" Ada@Example.COM ") == "EMAIL#ada@example.com"
    assert keys.email_sk(None, "I1") == "~#I1"
    assert keys.tenant_pk("acme") == "TENANT#acme"
    assert keys.tenant_sk("2026-01-01T00:00:00Z", "E1") == "2026-01-01T00:00:00.000000Z#E1"
    assert keys.email_sk("2026-01-01T10:00:00.5Z", "I1") == "2026-01-01T10:00:00.500000Z#I1"
    assert keys.window(None, None) == ("0", "~~")
    assert keys.invitee("E1", "I1").dynamo() == {"PK": {"S": "EVENT#E1"}, "SK": {"S": "INVITEE#I1"}}
    # And the ids come back out of the keys for the read views
    assert keys.identity(keys.invitee("E1", "I1")) == ("E1", "I1")
    assert keys.identity(keys.event("E1")) == ("E1", "")
    assert keys.identity(keys.submission("S1", "E1")) == ("E1", "S1")
    assert keys.identity(keys.submission("S1", None)) == ("", "S1")
    assert keys.identity(keys.delivery("abc")) == ("", "abc")
    assert keys.identity(keys.other("m", "2026-01-01T00:00:00Z", "abc")) == ("", "abc")


def test_index_sort_keys_order_as_times_and_windows_read_both_spellings() -> None:
    from datetime import UTC, datetime

    from calsync.aws import keys

    # Given starts one fractional second apart, spelled as sort keys now and as before
    # (a whole second without a fraction)
    whole, half = "2026-01-01T10:00:00Z", "2026-01-01T10:00:00.5Z"
    legacy = "2026-01-01T10:00:00Z#I0"
    # Then lexical order is time order
    assert keys.email_sk(whole, "I2") < keys.email_sk(half, "I1") < keys.email_sk("2026-01-01T10:00:01Z", "I0")
    # And both spellings read back as the same time
    assert keys.start_of(legacy) == keys.start_of(keys.email_sk(whole, "I0")) == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert keys.start_of("~#I1") is None
    # And a window's bounds hold the old spelling at its edges, the filter keeps what is inside
    start, end = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 10, 0, 0, 400000, tzinfo=UTC)
    lo, hi = keys.window(start, end)
    assert lo <= legacy <= hi
    assert lo <= keys.email_sk(half, "I1") <= hi  # within the bounds' second ...
    assert not keys.in_window(keys.email_sk(half, "I1"), start, end)  # ... but after the end
    assert keys.in_window(legacy, start, end)
    assert keys.in_window("~#I1", start, None)
    assert not keys.in_window("~#I1", start, end)


def test_a_token_secret_keeps_its_stored_format_and_reads_back() -> None:
    from calsync.connections.aws_tokens import token_from_json, token_to_json
    from calsync.connections.records import StoredToken

    # Given an OAuth token
    token = StoredToken(
        "oauth", "at", refresh_token="rt", expires_at=1700000000, owner="u", organization="o", generation="g1"
    )
    # When it is written as the secret's value, Then the JSON is the stored format, field for field
    text = token_to_json(token)
    assert text == (
        '{"kind": "oauth", "access_token": "at", "refresh_token": "rt", "expires_at": 1700000000, '
        '"owner": "u", "organization": "o", "generation": "g1"}'
    )
    # And it reads back as the same token; a PAT's absent fields stay absent
    assert token_from_json(text) == token
    assert token_from_json('{"kind": "pat", "access_token": "p"}') == StoredToken("pat", "p")
    # And a secret written before generations existed still reads
    assert token_from_json(text.replace(', "generation": "g1"', "")) == StoredToken(
        "oauth", "at", refresh_token="rt", expires_at=1700000000, owner="u", organization="o"
    )


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"kind": "oauth", "access_token": "at"}',
        '{"kind": "carrier-pigeon", "access_token": "at"}',
        '{"kind": "pat"}',
        '{"kind": "oauth", "access_token": "at", "refresh_token": "rt", "expires_at": "soon"}',
    ],
)
def test_a_malformed_token_secret_is_a_typed_error_that_quotes_nothing(text: str) -> None:
    from calsync.connections.aws_tokens import token_from_json
    from calsync.connections.records import TokenUnreadable

    # Given a token secret someone edited by hand, When it is read, Then TokenUnreadable, no value quoted
    with pytest.raises(TokenUnreadable) as caught:
        token_from_json(text)
    assert "at" not in str(caught.value).split()


def test_a_key_over_dynamodbs_limits_is_unstorable_counted_in_utf8_bytes() -> None:
    from calsync.aws import keys
    from calsync.errors import Unstorable

    # Given sort keys at the limit (1,024 bytes) and one byte over it in two-byte characters
    keys.check_sizes("invitee", {"PK": "EVENT#" + "e" * 2042, "SK": "INVITEE#" + "i" * 1016})
    over = "INVITEE#" + "é" * 509  # 517 characters, 1,026 bytes
    # Then the one over is refused, the reason naming the item and the attribute, not the value
    with pytest.raises(Unstorable, match=r"^the invitee's SK is 1026 bytes, over DynamoDB's 1024-byte limit") as raised:
        keys.check_sizes("invitee", {"PK": "EVENT#e", "SK": over})
    assert "é" not in str(raised.value)
    # And so is an index key (an address too long for the by-email index's partition key)
    with pytest.raises(Unstorable, match="GSI1PK is 2049 bytes, over DynamoDB's 2048-byte limit for a partition key"):
        keys.check_sizes("invitee", {"PK": "EVENT#e", "SK": "INVITEE#i", "GSI1PK": "EMAIL#" + "a" * 2043})
