"""`make bench`'s read API measure runs the real handler on full 100-booking pages (its
DynamoDB answers recorded from moto, then replayed) and prices the reads a page makes."""

from __future__ import annotations

from calsync_dev import bench, bench_read


def test_a_100_booking_page_is_timed_beyond_dynamodb_and_costs_at_most_a_read_unit_a_booking() -> None:
    # When the read measure runs a few iterations (it raises if a page were refused or not full)
    figures = bench_read.bench_read(3, bench._time)
    # Then both pages and the floor are timed, by the wall and by CPU
    for key in ("read_page", "read_page_cursor"):
        assert figures[f"{key}_p50_us"] > 0
        assert figures[f"{key}_cpu_p50_us"] > 0
    assert figures["read_page_floor_p50_us"] > 0
    # And a page of 100 bookings costs at most one read unit per booking returned
    assert figures["read_page_bookings"] == 100
    assert 0 < figures["read_units_per_booking"] <= 1
    assert 0 < figures["read_units_per_booking_cursor"] <= 1
    # And the table names the targets
    table = "\n".join(bench_read.render(figures))
    assert "p50 ≤ 2 ms" in table
    assert "(target ≤ 1)" in table
