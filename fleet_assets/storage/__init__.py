"""Storage: Hive-partitioned Parquet (source of truth) and DuckDB query views."""
