"""The local analytics lake: lake records as Parquet files, and the metrics run on them by DuckDB."""
