"""``make bench-analytics`` at a tiny scale: the generator writes the lake's schema, every metric
runs on it, and the scanned bytes count only the columns a query names (nothing here is timed)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq

from calsync.analytics.metrics import NAMES, MetricWindow
from calsync_dev.analytics.bench import COMPRESSION, bookings, columns_read, scanned_bytes, timed, write_lake
from calsync_dev.analytics.lake import SCHEMA, connect
from calsync_dev.template import deployed, load


def test_the_synthetic_lake_answers_every_metric(tmp_path: Path) -> None:
    # Given 2,000 synthetic bookings written as the lake
    records = write_lake(bookings(2_000), tmp_path)
    files = sorted(tmp_path.glob("dt=*/*.parquet"))
    assert records >= 2_000
    assert pq.ParquetFile(files[0]).schema_arrow.names == SCHEMA.names
    # Then every metric runs, and the current state has one row per booking
    connection = connect(tmp_path)
    window = MetricWindow(as_of=datetime(2026, 7, 1, tzinfo=UTC))
    counts = {name: timed(connection, name, window)[0] for name in NAMES}
    assert counts["current_bookings"] == 2_000
    assert counts["rates_by_event_type"] == 20


def test_scanned_bytes_count_only_the_columns_a_query_names(tmp_path: Path) -> None:
    write_lake(bookings(500), tmp_path)
    read = columns_read("rates_by_host")
    assert {"host_user", "invitee_uuid", "version", "end_time", "no_show"} <= read
    assert "event_id" not in read
    assert "utm_source" not in read
    every = scanned_bytes(tmp_path, set(SCHEMA.names))
    assert 0 < scanned_bytes(tmp_path, read) < every


def test_the_bench_measures_the_parquet_the_lakes_stream_writes(tmp_path: Path) -> None:
    # Given the codec the lake's Firehose conversion writes in AWS
    stream = deployed(load(), {})["Resources"]["LakeStream"]["Properties"]
    serializer = stream["ExtendedS3DestinationConfiguration"]["DataFormatConversionConfiguration"][
        "OutputFormatConfiguration"
    ]["Serializer"]
    # When the bench writes its lake (by default)
    write_lake(bookings(200), tmp_path)
    # Then its files use that codec, so the bytes it counts are the ones Athena would scan
    [path, *_] = sorted(tmp_path.glob("dt=*/*.parquet"))
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == serializer["ParquetSerDe"]["Compression"]
    assert COMPRESSION.upper() == serializer["ParquetSerDe"]["Compression"]
