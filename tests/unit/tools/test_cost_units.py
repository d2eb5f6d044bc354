"""DynamoDB's capacity arithmetic against the examples AWS's Developer Guide gives."""

from __future__ import annotations

import pytest

from calsync_dev.cost.units import (
    INDEX_ENTRY_OVERHEAD,
    Index,
    Table,
    item_size,
    number_size,
    read_units,
    value_size,
    write_units,
)

KEYS = ("PK", "SK")
TABLE = Table(
    KEYS,
    (
        Index("ByEmail", ("GSI1PK", "GSI1SK"), "KEYS_ONLY"),
        Index("All", ("GSI2PK", "GSI2SK"), "ALL"),
        Index("Some", ("GSI3PK",), "INCLUDE", frozenset({"status"})),
    ),
)


def s(text: str) -> dict[str, str]:
    return {"S": text}


def test_the_documented_two_attribute_item_is_23_bytes() -> None:
    # Given AWS's example: "shirt-color" = "R" and "shirt-size" = "M"
    item = {"shirt-color": s("R"), "shirt-size": s("M")}
    # Then its size is 23 bytes (names and values, UTF-8)
    assert item_size(item) == 23


def test_strings_count_utf8_bytes_not_characters() -> None:
    assert value_size(s("é")) == 2
    assert item_size({"naïve": s("日本")}) == 6 + 6


@pytest.mark.parametrize(
    ("number", "size"),
    [
        ("1", 2),
        ("12", 2),
        ("123", 3),
        ("1000", 2),
        ("0.001", 2),
        ("1764000000", 3),
        ("1764000001", 6),
        ("-12.5", 3),
        ("0", 2),
    ],
)
def test_numbers_are_a_byte_per_two_significant_digits_plus_one(number: str, size: int) -> None:
    assert number_size(number) == size
    assert value_size({"N": number}) == size


def test_documents_carry_3_bytes_and_1_per_element() -> None:
    # Empty list and map: 3 bytes each
    assert value_size({"L": []}) == 3
    assert value_size({"M": {}}) == 3
    # A map element: 1 byte + its name + its value; a list element: 1 byte + its value
    assert value_size({"M": {"a": s("xy")}}) == 3 + 1 + 1 + 2
    assert value_size({"L": [s("xy"), {"BOOL": True}, {"NULL": True}]}) == 3 + (1 + 2) + (1 + 1) + (1 + 1)
    assert value_size({"B": b"\x00" * 10}) == 10
    assert value_size({"SS": ["ab", "c"]}) == 3


@pytest.mark.parametrize(("size", "units"), [(1, 1), (1024, 1), (1025, 2), (3 * 1024, 3), (300 * 1024, 300)])
def test_writes_round_up_to_whole_kilobytes(size: int, units: int) -> None:
    # "a standard write request of a 3 KB item would require three WCUs"
    assert write_units(size) == units


def test_reads_round_up_to_4_kb_and_eventual_consistency_halves_them() -> None:
    # "a strongly consistent read of an 8 KB item would require two RCUs, an eventually
    # consistent read of an 8 KB item would require one"
    assert read_units(8 * 1024, consistent=True) == 2
    assert read_units(8 * 1024, consistent=False) == 1
    # "reading a 3,500-byte item consumes the same throughput as reading a 4 KB item"
    assert read_units(3500, consistent=True) == read_units(4096, consistent=True) == 1
    # A Query returning items of 40.8 KB in all is rounded to 44 KB: 11 units
    assert read_units(int(40.8 * 1024), consistent=True) == 11


def test_a_failed_condition_consumes_the_existing_items_size_or_one_unit() -> None:
    # AWS's example: an existing 300 KB item, a 310 KB new one: 300 units if the condition
    # fails, 310 if it succeeds; a failed write with no item: 1
    old = {"PK": s("a"), "SK": s("b"), "blob": {"B": b"x" * (300 * 1024 - 10)}}
    new = {"PK": s("a"), "SK": s("b"), "blob": {"B": b"x" * (310 * 1024 - 10)}}
    assert item_size(old) == 300 * 1024
    assert TABLE.write(old, new, applied=False).total == 300
    assert TABLE.write(old, new, applied=True).table == 310
    assert TABLE.write(None, new, applied=False).total == 1


def test_an_update_takes_the_larger_of_the_before_and_after_images() -> None:
    big = {"PK": s("a"), "SK": s("b"), "text": s("x" * 2000)}
    small = {"PK": s("a"), "SK": s("b"), "text": s("x")}
    assert TABLE.write(big, small, applied=True).table == 2


def test_a_new_index_entry_costs_its_projected_size_plus_100_bytes() -> None:
    # Given an item with a KEYS_ONLY index key and a 3 KB attribute
    item = {"PK": s("p"), "SK": s("s"), "GSI1PK": s("e"), "GSI1SK": s("k"), "text": s("x" * 3000)}
    # When it is written new: the table 3 units, the KEYS_ONLY entry (keys only) 1 unit
    cost = TABLE.write(None, item, applied=True)
    assert cost.table == 3
    assert cost.indexes == {"ByEmail": 1}
    entry = TABLE.index("ByEmail").entry(item, KEYS)
    assert entry == {"PK": s("p"), "SK": s("s"), "GSI1PK": s("e"), "GSI1SK": s("k")}
    assert TABLE.index("ByEmail").entry_size(item, KEYS) == (2 + 1) * 2 + (6 + 1) * 2 + INDEX_ENTRY_OVERHEAD


def test_an_all_projection_pays_the_whole_item_again() -> None:
    item = {"PK": s("p"), "SK": s("s"), "GSI2PK": s("t"), "GSI2SK": s("k"), "text": s("x" * 1500)}
    assert TABLE.write(None, item, applied=True).indexes == {"All": 2}


def test_index_writes_follow_what_the_index_holds() -> None:
    base = {"PK": s("p"), "SK": s("s"), "GSI1PK": s("e"), "GSI1SK": s("k"), "GSI3PK": s("t"), "status": s("a")}
    # A change of an attribute no index projects: no index write (KEYS_ONLY, INCLUDE)
    assert TABLE.write(base, {**base, "name": s("Ada")}, applied=True).indexes == {}
    # A change of an INCLUDEd attribute: one write to that index only
    assert TABLE.write(base, {**base, "status": s("c")}, applied=True).indexes == {"Some": 1}
    # A changed index key: delete the old entry and put the new (2 writes)
    assert TABLE.write(base, {**base, "GSI1SK": s("j")}, applied=True).indexes == {"ByEmail": 2}
    # An item leaving a sparse index: 1 write
    without = {k: v for k, v in base.items() if k != "GSI1SK"}
    assert TABLE.write(base, without, applied=True).indexes == {"ByEmail": 1}
    # An item not in an index at all costs that index nothing
    assert TABLE.write(None, {"PK": s("p"), "SK": s("s")}, applied=True).indexes == {}


def test_the_table_layout_is_read_from_its_template_properties() -> None:
    table = Table.from_template(
        {
            "KeySchema": [{"AttributeName": "PK"}, {"AttributeName": "SK"}],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "G",
                    "KeySchema": [{"AttributeName": "GPK"}],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["a"]},
                }
            ],
        }
    )
    assert table == Table(("PK", "SK"), (Index("G", ("GPK",), "INCLUDE", frozenset({"a"})),))
