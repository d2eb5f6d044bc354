"""The ``gsi3-booking-index`` step on an in-memory store: every invitee stored before GSI3 gets its
index key, once; a dry run writes nothing; a run that failed halfway is finished by running it
again; throttling is waited out; the key is never written for an invitee that is gone."""

from __future__ import annotations

import pytest

from calsync.errors import DependencyUnavailable, Throttled
from calsync.migrate.backoff import Backoff
from calsync.migrate.booking_index import IndexCounts, index_bookings
from tests.fakes.migrate import FakeBookingIndex

NO_WAIT = Backoff(sleep=lambda seconds: None, jitter=lambda: 1.0)


def store_with(unindexed: int = 5, indexed: int = 2, without_tenant: int = 1) -> FakeBookingIndex:
    store = FakeBookingIndex()
    for n in range(unindexed):
        store.add(f"E{n}", f"OLD{n}", "acme")
    for n in range(indexed):
        store.add(f"F{n}", f"NEW{n}", "acme", indexed=True)
    for n in range(without_tenant):
        store.add(f"G{n}", f"ORPHAN{n}", None)
    return store


def test_every_invitee_without_the_key_gets_it_and_the_counts_say_what_happened() -> None:
    # Given five invitees stored before GSI3, two stored since, one with no connection
    store = store_with()
    # When the step runs
    counts = index_bookings(store, backoff=NO_WAIT)
    # Then each old invitee carries its key, under its connection and uuid
    assert store.unindexed() == []
    assert store.items[("EVENT#E3", "INVITEE#OLD3")].gsi3pk == "BOOKING#acme#OLD3"
    # And the counts add up to every invitee scanned
    assert counts == IndexCounts(scanned=8, updated=5, already_done=2, skipped_without_tenant=1)
    # And the invitee without a connection is left as it was (it cannot be read by uuid either way)
    assert store.items[("EVENT#G0", "INVITEE#ORPHAN0")].gsi3pk is None


def test_a_second_run_updates_nothing() -> None:
    # Given a store the step has run over
    store = store_with()
    index_bookings(store, backoff=NO_WAIT)
    writes = store.writes
    # When it runs again
    counts = index_bookings(store, backoff=NO_WAIT)
    # Then it writes nothing and counts every invitee as already done
    assert counts == IndexCounts(scanned=8, already_done=7, skipped_without_tenant=1)
    assert store.writes == writes


def test_a_dry_run_counts_what_it_would_update_and_writes_nothing() -> None:
    store = store_with()
    counts = index_bookings(store, dry_run=True, backoff=NO_WAIT)
    assert counts == IndexCounts(scanned=8, updated=5, already_done=2, skipped_without_tenant=1)
    assert store.writes == 0
    assert len(store.unindexed()) == 5


def test_a_run_that_failed_halfway_is_finished_by_running_it_again() -> None:
    # Given a store whose writes fail after the third
    store = store_with(unindexed=6)
    store.fail_after = 3
    # When the step runs, it stops with the failure
    with pytest.raises(DependencyUnavailable):
        index_bookings(store, backoff=NO_WAIT)
    assert len(store.unindexed()) == 3
    # When the store recovers and the same step runs again
    store.fail_after = None
    counts = index_bookings(store, backoff=NO_WAIT)
    # Then the rest is done, and what the first run did counts as already done
    assert store.unindexed() == []
    assert counts == IndexCounts(scanned=9, updated=3, already_done=5, skipped_without_tenant=1)


@pytest.mark.parametrize("segments", [2, 3, 8])
def test_parallel_segments_cover_every_invitee_once(segments: int) -> None:
    store = store_with(unindexed=11)
    counts = index_bookings(store, segments=segments, backoff=NO_WAIT)
    assert store.unindexed() == []
    assert counts == IndexCounts(scanned=14, updated=11, already_done=2, skipped_without_tenant=1)
    assert {segment for segment, total in store.scans} == set(range(segments))
    assert {total for segment, total in store.scans} == {segments}


def test_a_failing_segment_stops_the_run_and_the_rerun_finishes() -> None:
    store = store_with(unindexed=12)
    store.fail_after = 4
    with pytest.raises(DependencyUnavailable):
        index_bookings(store, segments=3, backoff=NO_WAIT)
    store.fail_after = None
    index_bookings(store, segments=3, backoff=NO_WAIT)
    assert store.unindexed() == []


def test_throttling_is_waited_out_longer_each_time() -> None:
    # Given a store that refuses the rate twice before each call goes through
    store = store_with(unindexed=2, indexed=0, without_tenant=0)
    store.throttle = 2
    waits: list[float] = []
    backoff = Backoff(attempts=3, base=0.5, cap=20.0, sleep=waits.append, jitter=lambda: 1.0)
    # When the step runs
    counts = index_bookings(store, backoff=backoff)
    # Then every invitee is done, after waits that doubled and counted
    assert store.unindexed() == []
    assert counts.updated == 2
    assert waits == [0.5, 1.0] * 3  # one scan page and two writes
    assert counts.throttled == 6


def test_throttling_beyond_the_attempts_stops_the_run() -> None:
    store = store_with()
    store.throttle = 5
    with pytest.raises(Throttled):
        index_bookings(store, backoff=Backoff(attempts=3, sleep=lambda s: None, jitter=lambda: 1.0))
    assert store.writes == 0


def test_an_invitee_erased_between_the_scan_and_the_write_stays_gone() -> None:
    # Given an erasure that removes an invitee right after the scan read it
    store = store_with(unindexed=2, indexed=0, without_tenant=0)
    store.before_write = lambda invitee: (
        store.items.pop((invitee.pk, invitee.sk), None) if invitee.sk.endswith("OLD1") else None
    )
    counts = index_bookings(store, backoff=NO_WAIT)
    # Then it is counted as gone and not brought back
    assert counts == IndexCounts(scanned=2, updated=1, gone=1)
    assert ("EVENT#E1", "INVITEE#OLD1") not in store.items


def test_a_key_a_processor_wrote_first_counts_as_already_done() -> None:
    store = store_with(unindexed=1, indexed=0, without_tenant=0)

    def processor_writes(invitee: object) -> None:
        store.items[("EVENT#E0", "INVITEE#OLD0")].gsi3pk = "BOOKING#acme#OLD0"

    store.before_write = processor_writes
    assert index_bookings(store, backoff=NO_WAIT) == IndexCounts(scanned=1, already_done=1)


def test_segments_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="segments"):
        index_bookings(FakeBookingIndex(), segments=0)
