"""The local stack's lake buffer: Firehose-like batching, nothing lost on a failed write or at stop."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from calsync.analytics.record import LakeRecord
from calsync_dev.analytics.buffer import LakeBuffer
from calsync_dev.analytics.lake import connect
from calsync_dev.local.lifecycle import LocalLifecycle


def scheduled(n: int) -> dict[str, Any]:
    """A ``Booking Scheduled`` lifecycle event as EventBridge delivers it."""
    return {
        "detail-type": "Booking Scheduled",
        "time": "2026-11-20T09:00:05Z",
        "detail": {
            "schema_version": 2,
            "event_id": f"evt-{n}",
            "connection_id": "acme",
            "booking": {
                "invitee_uri": f"https://api.calendly.com/scheduled_events/E{n}/invitees/I{n}",
                "event_uri": f"https://api.calendly.com/scheduled_events/E{n}",
                "status": "active",
                "event_name": "Demo",
                "start_time": "2026-12-01T15:00:00Z",
                "end_time": "2026-12-01T15:30:00Z",
                "version": "v1",
            },
        },
    }


REMINDER = {"detail-type": "Booking Starting Soon", "time": "2026-11-20T09:00:05Z", "detail": {"event_id": "r"}}


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Writes:
    def __init__(self) -> None:
        self.batches: list[list[LakeRecord]] = []
        self.fail = False

    def __call__(self, records: Iterable[LakeRecord], directory: Path) -> list[Path]:
        if self.fail:
            raise OSError("disk full")
        self.batches.append(list(records))
        return [directory / f"part-{len(self.batches)}.parquet"]


def test_records_wait_until_the_buffer_is_full_then_land_in_one_write(tmp_path: Path) -> None:
    # Given a buffer of 10 records or 60 seconds
    clock, writes = Clock(), Writes()
    buffer = LakeBuffer(tmp_path, max_records=10, max_seconds=60, clock=clock, write=writes)
    # When 9 bookings and a reminder arrive within a second
    for n in range(9):
        buffer.add(scheduled(n))
    assert buffer.add(REMINDER) == 0  # a reminder lands as nothing
    clock.now += 1
    # Then nothing is due yet; the 10th booking makes it due, and one write holds all ten
    assert not buffer.due()
    buffer.add(scheduled(9))
    assert buffer.due()
    buffer.flush()
    assert [len(batch) for batch in writes.batches] == [10]
    assert not buffer.due()
    assert buffer.held == 0


def test_records_are_written_once_the_first_has_waited_long_enough(tmp_path: Path) -> None:
    clock, writes = Clock(), Writes()
    buffer = LakeBuffer(tmp_path, max_records=1000, max_seconds=5, clock=clock, write=writes)
    buffer.add(scheduled(1))
    clock.now += 4.9
    buffer.add(scheduled(2))
    assert not buffer.due()
    clock.now += 0.1
    assert buffer.due()
    assert len(buffer.flush()) == 1
    assert [r.event_id for r in writes.batches[0]] == ["evt-1", "evt-2"]


def test_a_failed_write_keeps_the_records_for_the_next_flush(tmp_path: Path) -> None:
    clock, writes = Clock(), Writes()
    buffer = LakeBuffer(tmp_path, max_records=2, clock=clock, write=writes)
    buffer.add(scheduled(1))
    buffer.add(scheduled(2))
    writes.fail = True
    with pytest.raises(OSError, match="disk full"):
        buffer.flush()
    writes.fail = False
    buffer.add(scheduled(3))
    buffer.flush()
    assert [r.event_id for r in writes.batches[0]] == ["evt-1", "evt-2", "evt-3"]
    assert buffer.written == 3


def test_the_real_writer_makes_parquet_duckdb_reads(tmp_path: Path) -> None:
    buffer = LakeBuffer(tmp_path / "lake")
    for n in range(3):
        buffer.add(scheduled(n))
    (path,) = buffer.flush()
    assert path.parent.name == "dt=2026-11-20"
    assert connect(tmp_path / "lake").execute("SELECT count(*) FROM lifecycle_events").fetchone() == (3,)


class Gate:
    def enter(self, *, wait: bool) -> bool:
        return True

    def leave(self) -> None:
        pass


def test_the_local_stack_writes_what_is_held_when_it_stops(tmp_path: Path) -> None:
    # Given the local stack's lifecycle loop holding records a long buffer has not written yet
    writes = Writes()
    lake = LakeBuffer(tmp_path, max_seconds=3600, write=writes)
    lifecycle = LocalLifecycle(
        None, "http://unused", lambda: None, lambda *_: None, lambda _: None, tmp_path / "e", lake=lake
    )  # type: ignore[arg-type]
    lake.add(scheduled(1))
    lifecycle.pump_streams = lambda: 0  # type: ignore[method-assign]
    lifecycle.pump_events = lambda: 0  # type: ignore[method-assign]
    lifecycle.fire_due = lambda at: 0  # type: ignore[method-assign]
    stopped = threading.Event()
    stopped.set()
    # When the loop stops
    lifecycle.run(stopped, Gate())
    # Then the held record was written
    assert [[r.event_id for r in batch] for batch in writes.batches] == [["evt-1"]]
