"""UTC timestamps have one home (``calsync.timefmt``): its two spellings, and no other module
spelling a UTC ``Z`` time by hand."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import calsync
from calsync import timefmt

PACKAGE = Path(calsync.__file__).resolve().parent


def test_iso_z_is_utc_with_z_and_microseconds_only_when_there_are_any() -> None:
    # Given a whole second and a time with microseconds, in another zone
    whole = datetime(2026, 12, 1, 11, 0, tzinfo=timezone(timedelta(hours=1)))
    # Then both read in UTC with Z
    assert timefmt.iso_z(whole) == "2026-12-01T10:00:00Z"
    assert timefmt.iso_z(whole.replace(microsecond=5)) == "2026-12-01T10:00:00.000005Z"


def test_sortable_is_fixed_width_so_text_order_is_time_order() -> None:
    # Given times a microsecond apart, a second apart and a day apart
    base = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    times = [base, base + timedelta(microseconds=1), base + timedelta(seconds=1), base + timedelta(days=1)]
    spelled = [timefmt.sortable(at) for at in times]
    # Then each has the same width and sorting the text sorts the times
    assert spelled[0] == "2026-12-01T10:00:00.000000Z"
    assert {len(text) for text in spelled} == {27}
    assert sorted(reversed(spelled)) == spelled


@pytest.mark.parametrize("spell", [timefmt.iso_z, timefmt.sortable])
def test_a_naive_time_means_utc_and_each_spelling_reads_back(spell: object) -> None:
    naive = datetime(2026, 12, 1, 10, 0, 0, 250000)
    assert callable(spell)
    assert timefmt.parse(spell(naive)) == naive.replace(tzinfo=UTC)


def test_from_epoch_is_aware_utc() -> None:
    assert timefmt.from_epoch(0) == datetime(1970, 1, 1, tzinfo=UTC)


HAND_SPELLED = re.compile(r'strftime\("[^"]*Z"\)|replace\("\+00:00", "Z"\)|replace\("Z", "\+00:00"\)')


def test_no_module_but_timefmt_spells_a_utc_z_time_by_hand() -> None:
    # Given every module of the package except timefmt itself
    found = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.name != "timefmt.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HAND_SPELLED.search(line)
    ]
    # Then none formats or parses a Z timestamp itself
    assert found == []


def test_parse_optional_reads_a_time_or_says_none() -> None:
    # Given stored values: a time with a zone, a naive one, and what is no time at all
    zoned, naive = "2026-12-01T11:00:00+01:00", "2026-12-01T10:00:00"
    # Then a zoned time reads as given; a naive one as UTC, or as no time when asked
    assert timefmt.parse_optional(zoned) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert timefmt.parse_optional(naive) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert timefmt.parse_optional(naive, naive_is_utc=False) is None
    assert timefmt.parse_optional(zoned, naive_is_utc=False) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    # And empty text, other text and other types are None
    for value in ("", "soon", None, 5, datetime(2026, 12, 1, tzinfo=UTC)):
        assert timefmt.parse_optional(value) is None
