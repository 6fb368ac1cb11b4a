"""Parquet read back by DuckDB, pandas and Polars; the atomic DuckDB catalog."""

import multiprocessing as mp

import duckdb
import pandas as pd
import polars as pl
import pytest

from fleet_assets.storage.catalog import build_catalog, connect_catalog_readonly, connect_parquet
from fleet_assets.storage.parquet_partitions import parquet_glob, write_partition


@pytest.fixture
def parquet_root(tmp_path, make_rows):
    root = tmp_path / "parquet"
    for i, day in enumerate(("2026-01-01", "2026-01-02", "2026-01-03")):
        write_partition(root / "telemetry", day, make_rows(day, 10 + i))
    write_partition(root / "normalized_samsara", "2026-01-01", make_rows("2026-01-01", 4))
    return root


def test_plain_readers_get_correct_dtypes(parquet_root):
    glob = parquet_glob(parquet_root / "telemetry")
    con = duckdb.connect()
    rel = con.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning=true)")
    types = dict(zip(rel.columns, map(str, rel.types)))
    assert types["timestamp"] == "TIMESTAMP WITH TIME ZONE" and types["date"] == "DATE"
    assert types["latitude"] == "DOUBLE" and types["vin"] == "VARCHAR"
    assert con.sql(f"SELECT date, count(*) FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY 1 ORDER BY 1").fetchall()[0][1] == 10
    df = pd.read_parquet(parquet_root / "telemetry")
    assert len(df) == 33 and str(df["timestamp"].dtype) in {"datetime64[us, UTC]", "datetime64[ns, UTC]"}
    assert df["odometer"].dtype == "float64"
    pf = pl.read_parquet(glob, hive_partitioning=True)
    assert pf.schema["timestamp"] == pl.Datetime("us", "UTC") and pf.schema["date"] == pl.Date
    assert pf.height == 33


def test_catalog_views_and_in_memory_reader(parquet_root, tmp_path):
    build = build_catalog(parquet_root, tmp_path / "warehouse.duckdb")
    assert set(build.views) == {"telemetry", "normalized_samsara"}
    assert "edge_events" in build.skipped
    with connect_catalog_readonly(build.path) as con:
        assert con.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 33
        with pytest.raises(duckdb.Error):
            con.execute("CREATE TABLE x (a INT)")
    # New partitions appear without rebuilding (views over the glob).
    with connect_parquet(parquet_root) as con:
        assert con.execute("SELECT count(*) FROM normalized_samsara").fetchone()[0] == 4
    assert not list(tmp_path.glob(".warehouse.duckdb.*"))


def test_missing_catalog_has_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="rebuild-catalog"):
        connect_catalog_readonly(tmp_path / "warehouse.duckdb")


def _rebuild_many(args):
    root, db, n = args
    for _ in range(n):
        build_catalog(root, db)
    return True


def test_concurrent_rebuilds_and_readers_never_hit_a_lock(parquet_root, tmp_path):
    db = tmp_path / "warehouse.duckdb"
    build_catalog(parquet_root, db)
    with mp.get_context("spawn").Pool(4) as pool:
        pending = pool.map_async(_rebuild_many, [(parquet_root, db, 15)] * 4)
        reads = 0
        while not pending.ready():
            with connect_catalog_readonly(db) as con:
                assert con.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 33
            reads += 1
        assert pending.get(timeout=60) == [True] * 4
    assert reads > 0
