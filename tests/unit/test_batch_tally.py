"""A processor invocation's one log line (``bookings.process.BatchTally``): what it counts."""

from __future__ import annotations

from calsync.bookings.apply import ApplyResult
from calsync.bookings.process import BatchTally


def test_one_line_counts_each_outcome_and_names_only_the_rare_ones_that_happened() -> None:
    # Given a batch: one applied (late), one duplicate that changed nothing, one quarantined
    tally = BatchTally(message_ids=["m1", "m2", "m3"])
    tally.count(ApplyResult("invitee.created", changed=True, lag_seconds=2.5))
    tally.count(ApplyResult("invitee.created", duplicate=True, lag_seconds=0.5))
    tally.count(ApplyResult("unknown", quarantined="not a calsync delivery message"))
    # When its line is written with one record failed
    fields = tally.fields(failed=1)
    # Then every routine count is there, and of the rare ones only those that happened
    assert fields == {
        "records": 3,
        "applied": 1,
        "duplicate": 1,
        "stale": 1,
        "quarantined": 1,
        "failed": 1,
        "lag_max_s": 2.5,
        "message_ids": ["m1", "m2", "m3"],
    }


def test_an_erased_delivery_is_counted_erased_and_nothing_else() -> None:
    tally = BatchTally(message_ids=["m1"])
    tally.count(ApplyResult("invitee.created", erased=True, lag_seconds=9.0))
    assert tally.fields(failed=0) == {
        "records": 1,
        "applied": 0,
        "duplicate": 0,
        "stale": 0,
        "erased": 1,
        "lag_max_s": 0.0,
        "message_ids": ["m1"],
    }
