"""Where the backfill's files go: fixed names per scan segment, replaced on a re-run; in the lake
bucket, never under a day Athena's partition projection does not cover."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from calsync.analytics.record import LakeRecord
from calsync_dev.analytics.backfill import PROJECTED_FROM, BucketLake, LocalLake, file_name
from calsync_dev.analytics.lake import table_of


def record(n: int, day: date) -> LakeRecord:
    at = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    return LakeRecord(kind="Booking Scheduled", event_id=f"e{n}", occurred_at=at, invitee_uuid=f"I{n}", version="v1")


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, *, Bucket: str, Key: str, Body: bytes) -> Any:
        self.objects[f"{Bucket}/{Key}"] = Body


def test_a_segment_is_written_once_per_day_under_its_fixed_name_and_a_rerun_replaces_it(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path)
    name = file_name(3, 8)
    assert name == "backfill-003-of-008.parquet"
    first = {date(2026, 11, 20): table_of([record(1, date(2026, 11, 20))]), date(2026, 11, 21): table_of([])}
    assert lake.replace(name, first) == 2
    # When the same segment is written again, its booking now on another day only
    assert lake.replace(name, {date(2026, 11, 22): table_of([record(1, date(2026, 11, 22))])}) == 1
    # Then its files of the first run are gone: one file, at the new day
    assert [str(p.relative_to(tmp_path)) for p in sorted(tmp_path.glob("dt=*/*.parquet"))] == [f"dt=2026-11-22/{name}"]
    assert not list(tmp_path.glob("dt=*/.*"))  # no temporary file left behind


def test_in_the_bucket_days_before_the_projection_land_on_its_first_day() -> None:
    s3 = FakeS3()
    lake = BucketLake(s3, "lake", "lifecycle_events/")
    tables = {
        date(2025, 3, 1): table_of([record(1, date(2025, 3, 1))]),
        date(2025, 7, 1): table_of([record(2, date(2025, 7, 1))]),
        date(2026, 11, 20): table_of([record(3, date(2026, 11, 20))]),
    }
    assert lake.replace("backfill-000-of-001.parquet", tables) == 2
    first = f"lake/lifecycle_events/dt={PROJECTED_FROM.isoformat()}/backfill-000-of-001.parquet"
    assert sorted(s3.objects) == [first, "lake/lifecycle_events/dt=2026-11-20/backfill-000-of-001.parquet"]
    both = pq.read_table(io.BytesIO(s3.objects[first]))
    assert sorted(both.column("event_id").to_pylist()) == ["e1", "e2"]
    assert pq.ParquetFile(io.BytesIO(s3.objects[first])).metadata.row_group(0).column(0).compression == "GZIP"
