"""``make bench-analytics``: the metrics at scale. Generates N synthetic bookings' lifecycle
events as lake records (Parquet in the lake's schema, arrival order, one folder per date, GZIP
like the lake's Firehose Parquet conversion writes: template.yaml, ``ParquetSerDe``), runs each
metric in DuckDB and prints its wall and CPU time, and the bytes Athena would scan for it: the compressed size of the Parquet column chunks
of the columns the query names (found by sqlglot), summed over every file and row group.

Not a test: nothing here is timed in ``make test``. Figures are kept in docs/analytics.md."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import sqlglot

from calsync.analytics.metrics import NAMES, MetricWindow, sql
from calsync_dev.analytics.lake import SCHEMA, connect

START = datetime(2026, 1, 1, tzinfo=UTC)
DAYS = 180
API = "https://api.calendly.com"
ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", dtype=np.uint8)
# What the lake's Firehose Parquet conversion writes (template.yaml: ParquetSerDe Compression)
COMPRESSION = "gzip"
KINDS = {
    "scheduled": "Booking Scheduled",
    "canceled": "Booking Canceled",
    "rescheduled": "Booking Rescheduled",
    "no_show": "Invitee No-Show Marked",
    "submitted": "Routing Form Submitted",
}


def uuids(rng: np.random.Generator, n: int, length: int = 16) -> np.ndarray:
    """Calendly-like ids: ``length`` random upper-case letters and digits."""
    codes = rng.choice(ALPHABET, size=(n, length))
    return codes.view(f"S{length}").ravel().astype(str)


def _us(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[us]"), type=pa.timestamp("us"))


def _version(at: np.ndarray) -> np.ndarray:
    text = np.datetime_as_string(at.astype("datetime64[us]"), unit="us")
    return np.char.add(text, "Z#0")


@dataclass
class Bookings:
    """N bookings' facts, one array each (index = booking)."""

    n: int
    invitee: np.ndarray
    event: np.ndarray
    event_type: np.ndarray
    host: np.ndarray
    connection: np.ndarray
    created: np.ndarray
    start: np.ndarray
    end: np.ndarray
    canceled: np.ndarray
    canceled_at: np.ndarray
    canceler: np.ndarray
    rescheduled: np.ndarray
    no_show: np.ndarray
    utm_source: np.ndarray
    utm_campaign: np.ndarray
    submission: np.ndarray
    form: np.ndarray


def _where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``mask``, else None (an object array)."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = values[mask]
    return out


def bookings(n: int, seed: int = 19) -> Bookings:
    rng = np.random.default_rng(seed)
    start0 = np.datetime64(START.replace(tzinfo=None), "s")
    created = start0 + rng.integers(0, DAYS * 86_400, n).astype("timedelta64[s]")
    lead = (rng.exponential(5 * 86_400, n) + 3_600).astype("int64").astype("timedelta64[s]")
    minutes = (created + lead).astype("datetime64[m]").astype("int64")
    start = ((minutes // 30 + 1) * 30).astype("datetime64[m]").astype("datetime64[s]")  # on the half hour
    end = start + np.timedelta64(30, "m")
    canceled = rng.random(n) < 0.12
    rescheduled = canceled & (rng.random(n) < 0.4)  # of the canceled: rescheduled away
    fraction = rng.random(n)
    canceled_at = created + ((start - created).astype("int64") * fraction).astype("timedelta64[s]")
    has_utm = rng.random(n) < 0.3
    sources = np.array(["google", "linkedin", "newsletter", "partner", "webinar"])
    campaigns = np.array([f"campaign-{i:02d}" for i in range(20)])
    from_form = rng.random(n) < 0.1
    hosts = np.array([f"{API}/users/{u}" for u in uuids(rng, 200)])
    forms = uuids(rng, 10)
    return Bookings(
        n=n,
        invitee=uuids(rng, n),
        event=uuids(rng, n),
        event_type=np.array([f"Event type {i:02d}" for i in range(20)])[rng.integers(0, 20, n)],
        host=hosts[rng.integers(0, 200, n)],
        connection=np.array(["acme", "globex", "initech"])[rng.integers(0, 3, n)],
        created=created,
        start=start,
        end=end,
        canceled=canceled,
        canceled_at=canceled_at,
        canceler=np.where(rng.random(n) < 0.7, "invitee", "host"),
        rescheduled=rescheduled,
        no_show=~canceled & (rng.random(n) < 0.08),
        utm_source=_where(has_utm, sources[rng.integers(0, 5, n)]),
        utm_campaign=_where(has_utm, campaigns[rng.integers(0, 20, n)]),
        submission=_where(from_form, uuids(rng, n)),
        form=_where(from_form, forms[rng.integers(0, 10, n)]),
    )


def _records(b: Bookings, kind: str, pick: np.ndarray, at: np.ndarray, **overrides: object) -> pa.Table:
    """One record per picked booking: the booking's facts, as of ``at``."""
    rng = np.random.default_rng(len(kind) * 7919 + int(pick.sum()))
    size = int(pick.sum())

    def col(values: object) -> object:
        return values[pick] if isinstance(values, np.ndarray) else [values] * size

    status = overrides.get("status", "active")
    columns: dict[str, object] = {
        "kind": [KINDS[kind]] * size,
        "event_id": np.char.add(uuids(rng, size, 16), uuids(rng, size, 16)),
        "occurred_at": _us(col(at)),  # type: ignore[arg-type]
        "connection_id": col(b.connection),
        "event_uuid": col(b.event),
        "invitee_uuid": col(b.invitee),
        "event_type": col(b.event_type),
        "host_user": col(b.host),
        "status": col(status),
        "start_time": _us(b.start[pick]),
        "end_time": _us(b.end[pick]),
        "created_at": _us(b.created[pick])
        if kind in ("scheduled", "rescheduled")
        else pa.nulls(size, pa.timestamp("us")),
        "no_show": col(overrides.get("no_show", False)),
        "canceled_by": col(overrides.get("canceled_by")),
        "rescheduled": col(overrides.get("rescheduled", False)),
        "rescheduled_from": col(None),
        "utm_source": col(b.utm_source),
        "utm_medium": col(None),
        "utm_campaign": col(b.utm_campaign),
        "utm_content": col(None),
        "utm_term": col(None),
        "routing_form_id": col(None),
        "submission_uuid": col(b.submission),
        "version": col(overrides.get("version", _version(b.created))),
        "no_show_version": col(overrides.get("no_show_version")),
    }
    return pa.table({name: columns[name] for name in SCHEMA.names}, schema=SCHEMA)


def lake_tables(b: Bookings) -> Iterable[pa.Table]:
    """Every lifecycle event of the bookings the lake keeps (reminders land as nothing), as lake
    records: scheduled, canceled (or a reschedule's old half, canceled to reschedule), no-show
    marks, and routing-form submissions (10 % of bookings come from one)."""
    everyone = np.ones(b.n, dtype=bool)
    yield _records(b, "scheduled", everyone, b.created)
    plain_cancel = b.canceled & ~b.rescheduled
    cancel_version = _version(b.canceled_at)
    yield _records(
        b, "canceled", plain_cancel, b.canceled_at, status="canceled", canceled_by=b.canceler, version=cancel_version
    )
    yield _records(
        b,
        "rescheduled",
        b.rescheduled,
        b.canceled_at,
        status="canceled",
        canceled_by=b.canceler,
        rescheduled=True,
        version=cancel_version,
    )
    yield _records(
        b, "no_show", b.no_show, b.end + np.timedelta64(10, "m"), no_show=True, no_show_version=_version(b.end)
    )
    from_form = b.submission != None  # noqa: E711 (an object array: elementwise)
    size = int(from_form.sum())
    submitted = b.created[from_form] - np.timedelta64(2, "m")
    submissions = {name: pa.nulls(size, SCHEMA.field(name).type) for name in SCHEMA.names} | {
        "kind": pa.array([KINDS["submitted"]] * size),
        "event_id": pa.array(uuids(np.random.default_rng(7), size, 32)),
        "occurred_at": _us(submitted),
        "created_at": _us(submitted),
        "connection_id": pa.array(b.connection[from_form]),
        "routing_form_id": pa.array(b.form[from_form]),
        "submission_uuid": pa.array(b.submission[from_form]),
        "invitee_uuid": pa.array(b.invitee[from_form]),
    }
    yield pa.table(submissions, schema=SCHEMA)


def write_lake(b: Bookings, directory: Path, compression: str = COMPRESSION) -> int:
    """All records in arrival order, one Parquet file per date; the number of records."""
    table = pa.concat_tables(lake_tables(b)).sort_by("occurred_at")
    table = table.append_column("dt", pc.strftime(table["occurred_at"], format="%Y-%m-%d"))
    ds.write_dataset(
        table,
        directory,
        format="parquet",
        partitioning=ds.partitioning(pa.schema([("dt", pa.string())]), flavor="hive"),
        file_options=ds.ParquetFileFormat().make_write_options(compression=compression),
        basename_template="part-{i}.parquet",
        existing_data_behavior="overwrite_or_ignore",
    )
    return int(table.num_rows)


def columns_read(name: str) -> set[str]:
    """The lake columns a metric's query names (what Athena reads of each Parquet file)."""
    tree = sqlglot.parse_one(sql(name), read="athena")
    return {column.name for column in tree.find_all(sqlglot.exp.Column)} & set(SCHEMA.names)


def scanned_bytes(directory: Path, columns: set[str]) -> int:
    total = 0
    for path in directory.glob("dt=*/*.parquet"):
        meta = pq.ParquetFile(path).metadata
        for group in range(meta.num_row_groups):
            row_group = meta.row_group(group)
            for i in range(row_group.num_columns):
                chunk = row_group.column(i)
                if chunk.path_in_schema in columns:
                    total += chunk.total_compressed_size
    return total


def timed(connection: duckdb.DuckDBPyConnection, name: str, window: MetricWindow) -> tuple[int, float, float]:
    """One run of a metric, its result kept in DuckDB (what the query costs, not moving rows into
    Python): rows, wall seconds, CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    connection.execute(f"CREATE OR REPLACE TEMP TABLE result AS {sql(name)}", window.parameters())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    (rows,) = connection.execute("SELECT count(*) FROM result").fetchone() or (0,)
    return int(rows), wall, cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-analytics", description=__doc__)
    parser.add_argument("--bookings", type=int, default=1_000_000)
    parser.add_argument("--lake", type=Path, help="write the lake here and keep it (default: a temporary folder)")
    parser.add_argument(
        "--compression",
        default=COMPRESSION,
        choices=["gzip", "snappy", "zstd"],
        help="the Parquet codec (default gzip: what the lake's Firehose conversion writes)",
    )
    parser.add_argument("--runs", type=int, default=3, help="runs per metric; the best is printed")
    parser.add_argument("--reuse", action="store_true", help="measure the lake already in --lake, generate nothing")
    args = parser.parse_args(argv)
    directory = args.lake or Path(tempfile.mkdtemp(prefix="calsync-lake-"))
    try:
        began = time.perf_counter()
        if args.reuse and args.lake is not None:
            rows = sum(pq.ParquetFile(p).metadata.num_rows for p in directory.glob("dt=*/*.parquet"))
        else:
            rows = write_lake(bookings(args.bookings), directory, args.compression)
        files = sorted(directory.glob("dt=*/*.parquet"))
        size = sum(p.stat().st_size for p in files)
        codec = pq.ParquetFile(files[0]).metadata.row_group(0).column(0).compression if files else "none"
        print(
            f"{args.bookings:,} bookings → {rows:,} lake records, {size / 1e6:.1f} MB Parquet ({codec}) "
            f"in {time.perf_counter() - began:.1f} s; DuckDB on {os.cpu_count()} cores (load {os.getloadavg()[0]:.1f})"
        )
        connection = connect(directory)
        window = MetricWindow(as_of=datetime(2026, 7, 1, tzinfo=UTC))
        print(f"{'metric':<22} {'rows':>9} {'wall s':>7} {'cpu s':>6} {'scan MB':>8}  columns read")
        for name in NAMES:
            runs = [timed(connection, name, window) for _ in range(args.runs)]
            out, wall, cpu = min(runs, key=lambda run: run[1])
            columns = columns_read(name)
            megabytes = scanned_bytes(directory, columns) / 1e6
            print(f"{name:<22} {out:>9,} {wall:>7.2f} {cpu:>6.2f} {megabytes:>8.1f}  {len(columns)}")
        print(
            "wall: best of the runs on this shared machine; cpu: DuckDB's CPU seconds for it (both cores),"
            " what bounds the wall time on an idle machine"
        )
    finally:
        if args.lake is None:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
