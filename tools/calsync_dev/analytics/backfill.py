"""``calsync lake backfill``: lake records for what was stored before the lake existed.

The bookings table is scanned one segment at a time (``calsync.analytics.aws_stored``); each
stored booking, submission and tombstone becomes the records its current state means
(``calsync.analytics.stored``, pure); each segment's records are written as one Parquet file per
date with a name fixed by the segment (``dt=YYYY-MM-DD/backfill-003-of-008.parquet``), into the
local lake or under the lake bucket's prefix. Running it again (with the same ``--segments``)
replaces those files instead of adding more, and the metrics count each booking once by its
latest version, so a backfill written twice, or beside the live records of the same bookings,
changes no number.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from calsync.analytics.aws_stored import ScanPage
from calsync.analytics.record import LakeRecord
from calsync.analytics.stored import stored_records
from calsync_dev.analytics.lake import COMPRESSION, table_of

DEFAULT_SEGMENTS = 8
LAKE_PREFIX = (
    "lifecycle_events/"  # where the lake's Firehose stream writes in the lake bucket (the Glue table's location)
)
# The first day the Glue table's partition projection covers (template.yaml: projection.dt.range)
PROJECTED_FROM = date(2026, 1, 1)
S3_COMPRESSION = "gzip"  # as the Firehose conversion writes (docs/analytics.md: fewer bytes scanned)


def file_name(segment: int, segments: int) -> str:
    return f"backfill-{segment:03d}-of-{segments:03d}.parquet"


class Scan(Protocol):
    def approximate_count(self) -> int | None: ...
    def pages(self, segment: int, total_segments: int) -> Iterator[ScanPage]: ...


class Sink(Protocol):
    def replace(self, name: str, tables: dict[date, pa.Table]) -> int:
        """Write each date's table as ``dt=<date>/<name>`` (replacing a file of that name); how many."""
        ...


class LocalLake:
    """The local lake's directory: a segment's files of an earlier run at a date it no longer has are removed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def replace(self, name: str, tables: dict[date, pa.Table]) -> int:
        wanted = {f"dt={day.isoformat()}" for day in tables}
        for old in self.directory.glob(f"dt=*/{name}") if self.directory.is_dir() else []:
            if old.parent.name not in wanted:
                old.unlink()
        for day, table in tables.items():
            folder = self.directory / f"dt={day.isoformat()}"
            folder.mkdir(parents=True, exist_ok=True)
            temporary = folder / f".{name}.tmp"  # readers glob *.parquet: never half a file
            pq.write_table(table, temporary, compression=COMPRESSION)
            temporary.replace(folder / name)
        return len(tables)


class BucketLake:
    """The lake bucket: objects under ``prefix`` + ``dt=<date>/``, overwritten by name. A record
    of a day before ``earliest`` (the Glue table projects ``dt`` from there on: Athena reads no
    earlier partition) is written under ``earliest``; the metrics read booking times, not ``dt``."""

    def __init__(self, s3: Any, bucket: str, prefix: str = LAKE_PREFIX, earliest: date = PROJECTED_FROM) -> None:
        self.s3, self.bucket, self.prefix, self.earliest = s3, bucket, prefix, earliest

    def replace(self, name: str, tables: dict[date, pa.Table]) -> int:
        days: dict[date, list[pa.Table]] = defaultdict(list)
        for day, table in sorted(tables.items()):
            days[max(day, self.earliest)].append(table)
        for day, parts in days.items():
            table = pa.concat_tables(parts)
            body = io.BytesIO()
            pq.write_table(table, body, compression=S3_COMPRESSION)
            key = f"{self.prefix}dt={day.isoformat()}/{name}"
            self.s3.put_object(Bucket=self.bucket, Key=key, Body=body.getvalue())
        return len(days)


class Progress(Protocol):
    def advance(self, n: int = 1) -> None: ...
    def note(self, **counts: object) -> None: ...


@dataclass
class Summary:
    scanned: int = 0
    records: int = 0
    files: int = 0
    segments: int = 0


def _by_day(records: list[LakeRecord]) -> dict[date, pa.Table]:
    days: dict[date, list[LakeRecord]] = defaultdict(list)
    for record in records:
        days[record.dt].append(record)
    # sorted: the same table gives the same bytes, run after run
    return {
        day: table_of(sorted(rows, key=lambda r: (r.event_id, r.invitee_uuid or "", r.kind)))
        for day, rows in sorted(days.items())
    }


def backfill(scan: Scan, sink: Sink, progress: Progress, *, segments: int = DEFAULT_SEGMENTS) -> Summary:
    """Every segment in turn: its stored items → lake records → one file per date (its name fixed
    by the segment). Memory holds one segment's records at a time."""
    summary = Summary()
    for segment in range(segments):
        records: list[LakeRecord] = []
        for page in scan.pages(segment, segments):
            for item in page.items:
                records.extend(stored_records(item, page.images))
            summary.scanned += page.scanned
            progress.advance(page.scanned)
        summary.files += sink.replace(file_name(segment, segments), _by_day(records))
        summary.records += len(records)
        summary.segments += 1
        progress.note(segment=f"{segment + 1}/{segments}", records=summary.records, files=summary.files)
    return summary
