"""The local lake: lake records as Parquet, partitioned by date (``dt=YYYY-MM-DD/``) like the
S3 lake Firehose writes, and DuckDB over it with the table the metrics read (``lifecycle_events``).

Timestamps are stored as UTC without a zone (Parquet ``TIMESTAMP(isAdjustedToUTC=false)``,
what Firehose's conversion writes and Athena reads as ``timestamp``)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from calsync.analytics.metrics import TABLE, MetricWindow, sql
from calsync.analytics.record import LakeRecord

DEFAULT_LAKE = Path(".calsync/lake")
COMPRESSION = "zstd"

_TIMESTAMPS = {"occurred_at", "start_time", "end_time", "created_at"}
_BOOLEANS = {"no_show", "rescheduled"}
# The lake's columns, in LakeRecord's order (the Glue table's columns; ``dt`` is the partition)
SCHEMA = pa.schema(
    [
        (name, pa.timestamp("us") if name in _TIMESTAMPS else pa.bool_() if name in _BOOLEANS else pa.string())
        for name in LakeRecord.model_fields
    ]
)


def _naive(value: Any) -> Any:
    return value.astimezone(UTC).replace(tzinfo=None) if isinstance(value, datetime) and value.tzinfo else value


def table_of(records: Sequence[LakeRecord]) -> pa.Table:
    """The records as one Arrow table with the lake's schema."""
    columns = {name: [_naive(getattr(r, name)) for r in records] for name in SCHEMA.names}
    return pa.table(columns, schema=SCHEMA)


def write_records(records: Iterable[LakeRecord], directory: Path) -> list[Path]:
    """Append the records to the lake under ``directory``: one new Parquet file per date."""
    by_day: dict[date, list[LakeRecord]] = defaultdict(list)
    for record in records:
        by_day[record.dt].append(record)
    written = []
    for day, rows in sorted(by_day.items()):
        written.append(write_table(table_of(rows), directory, day))
    return written


def write_table(table: pa.Table, directory: Path, day: date) -> Path:
    """One Parquet file of ``table`` in the partition of ``day``."""
    folder = directory / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"part-{uuid.uuid4().hex}.parquet"
    temporary = folder / f".{name}.tmp"  # readers (calsync stats while the local stack writes) glob *.parquet
    pq.write_table(table, temporary, compression=COMPRESSION)
    return temporary.replace(folder / name)


def connect(directory: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with the lake as ``lifecycle_events`` (an empty table when there is no file yet) and
    ``approx_percentile`` (Athena's name) as DuckDB's discrete quantile."""
    connection = duckdb.connect()
    connection.execute("CREATE MACRO approx_percentile(x, p) AS quantile_disc(x, p)")
    files = sorted(directory.glob("dt=*/*.parquet")) if directory.is_dir() else []
    if files:
        pattern = str(directory / "dt=*" / "*.parquet").replace("'", "''")
        connection.execute(
            f"CREATE VIEW {TABLE} AS SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)"  # noqa: S608
        )
    else:
        connection.register("_empty_lake", table_of([]))
        connection.execute(f"CREATE VIEW {TABLE} AS SELECT * FROM _empty_lake")  # noqa: S608
    return connection


@dataclass(frozen=True, slots=True)
class Result:
    name: str
    columns: list[str]
    rows: list[tuple[Any, ...]]
    total: int  # the rows the metric has (``rows`` may be the first of them)

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


# How a listing's first rows are chosen when only some are shown
LISTING_ORDER = {"current_bookings": "start_time, invitee_uuid"}


def run(connection: duckdb.DuckDBPyConnection, name: str, window: MetricWindow, *, limit: int | None = None) -> Result:
    """The metric ``name`` over the lake, for ``window``; of a listing (``current_bookings``) only
    the first ``limit`` rows (by start time) when ``limit`` is given, and how many there are."""
    text = sql(name)
    if limit is None or name not in LISTING_ORDER:
        cursor = connection.execute(text, window.parameters())
        columns = [column[0] for column in cursor.description or []]
        rows = cursor.fetchall()
        return Result(name, columns, rows, len(rows))
    connection.execute(f"CREATE OR REPLACE TEMP TABLE listing AS {text}", window.parameters())
    (total,) = connection.execute("SELECT count(*) FROM listing").fetchone() or (0,)
    cursor = connection.execute(f"SELECT * FROM listing ORDER BY {LISTING_ORDER[name]} LIMIT {int(limit)}")  # noqa: S608
    columns = [column[0] for column in cursor.description or []]
    return Result(name, columns, cursor.fetchall(), int(total))
