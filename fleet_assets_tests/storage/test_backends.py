"""The storage library on both backends (embedded directory, S3 on moto): partitions, publish, raw store,
retention, load_date_range and the catalog readers behave the same, so the two cannot drift."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from fleet_assets.storage.catalog import build_catalog, connect_parquet
from fleet_assets.storage.loading import load_date_range
from fleet_assets.storage.parquet_partitions import delete_partition, list_partitions, read_partition, write_partition
from fleet_assets.storage.publish import ValidationError, publish_partition
from fleet_assets.storage.raw_store import RawDataMissingError, read_raw, write_raw
from fleet_assets.storage.retention import delete_old_partitions
from fleet_assets.transforms.rules import DATASET_RULES

DAYS = ("2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04")


def test_partitions_replace_list_read_delete(layout, make_rows):
    telemetry = layout.dataset("telemetry")
    assert read_partition(telemetry, DAYS[0]) is None and list_partitions(telemetry) == []
    write_partition(telemetry, DAYS[0], make_rows(DAYS[0], 5))
    written = write_partition(telemetry, DAYS[0], make_rows(DAYS[0], 3))  # replace
    write_partition(telemetry, DAYS[1], make_rows(DAYS[1], 0))  # an empty day is still a partition
    assert written.rows == 3 and written.bytes == layout.store.size("parquet/telemetry/date=2026-01-01/part-0.parquet")
    assert str(written.path).endswith("parquet/telemetry/date=2026-01-01/part-0.parquet")
    assert read_partition(telemetry, DAYS[0]).equals(make_rows(DAYS[0], 3))
    assert list_partitions(telemetry) == list(DAYS[:2])
    # nothing but the one data object per day (no temp files left behind on either backend)
    assert layout.store.list("parquet") == [f"parquet/telemetry/date={d}/part-0.parquet" for d in DAYS[:2]]
    assert delete_partition(telemetry, DAYS[0]) is True and delete_partition(telemetry, DAYS[0]) is False
    assert list_partitions(telemetry) == [DAYS[1]] and read_partition(telemetry, DAYS[0]) is None


def test_publish_rejects_before_writing(layout, make_rows):
    rules, dataset = DATASET_RULES["telemetry"], layout.dataset("telemetry")
    good = make_rows(DAYS[0], 4)
    published = publish_partition(dataset, DAYS[0], good, rules)
    assert published.table.equals(good) and all(ok for ok, _ in published.checks.values())
    with pytest.raises(ValidationError, match="nothing written"):
        publish_partition(dataset, DAYS[0], make_rows(DAYS[1], 2), rules)  # rows outside the day
    assert read_partition(dataset, DAYS[0]).equals(good)
    assert layout.store.list("parquet") == ["parquet/telemetry/date=2026-01-01/part-0.parquet"]


def test_raw_store_switches_versions_and_keeps_one(layout):
    raw = layout.raw_dir
    with pytest.raises(RawDataMissingError, match="no raw motive fetch stored for date=2026-01-01"):
        read_raw(raw, "motive", DAYS[0])
    write_raw(raw, "motive", DAYS[0], {"vehicles": b'{"id":1}\n'}, {"n": 1})
    write_raw(raw, "motive", DAYS[0], {"vehicles": b'{"id":2}\n', "locations": b""}, {"n": 2})
    fetch = read_raw(raw, "motive", DAYS[0])
    assert fetch.files == {"locations": b"", "vehicles": b'{"id":2}\n'} and fetch.manifest == {"n": 2}
    day = "raw/motive/date=2026-01-01"
    assert layout.store.children(day) == [fetch.location.name]  # the superseded version was removed
    assert sorted(k.rsplit("/", 1)[-1] for k in layout.store.list(day)) == [
        "CURRENT", "locations.ndjson.gz", "manifest.json", "vehicles.ndjson.gz"]
    with pytest.raises(ValueError, match="invalid raw file name"):
        write_raw(raw, "motive", DAYS[1], {"ok": b"1", "../x": b"2"}, {})
    assert layout.store.list("raw/motive/date=2026-01-02") == []  # rejected before anything was written


def test_retention_and_load_date_range(layout, make_rows):
    for day in DAYS:
        write_partition(layout.dataset("telemetry"), day, make_rows(day, 5))
        write_raw(layout.raw_dir, "motive", day, {"locations": b""}, {})
    df = load_date_range("2026-01-02", date(2026, 1, 3), layout=layout)
    assert len(df) == 10 and str(df["timestamp"].min()) == "2026-01-02 00:00:00+00:00"
    assert load_date_range("2027-01-01", "2027-01-02", layout=layout).empty
    with pytest.raises(ValueError, match="is after end"):
        load_date_range("2026-01-03", "2026-01-01", layout=layout)
    planned = delete_old_partitions(layout.store_root, 2, today=date(2026, 1, 5), dry_run=True)
    assert {(e.area, e.day) for e in planned} == {(a, d) for a in ("parquet", "raw") for d in DAYS[:2]}
    assert list_partitions(layout.dataset("telemetry")) == list(DAYS)
    delete_old_partitions(layout.store_root, 2, today=date(2026, 1, 5))
    assert list_partitions(layout.dataset("telemetry")) == list(DAYS[2:])
    assert layout.store.children("raw/motive") == [f"date={d}" for d in DAYS[2:]]
    assert not [k for k in layout.store.list("") if "2026-01-01" in k or "2026-01-02" in k]


def test_catalog_readers_see_the_same_views(layout, make_rows):
    for i, day in enumerate(DAYS[:3]):
        write_partition(layout.dataset("telemetry"), day, make_rows(day, 10 + i))
    write_partition(layout.dataset("normalized_samsara"), DAYS[0], make_rows(DAYS[0], 4))
    build = build_catalog(layout.parquet_dir, layout.duckdb_path)
    assert set(build.views) == {"telemetry", "normalized_samsara"} and "edge_events" in build.skipped
    assert build.rows == {"telemetry": 33, "normalized_samsara": 4}
    with connect_parquet(layout.parquet_dir) as con:
        rel = con.sql("SELECT * FROM telemetry")
        types = dict(zip(rel.columns, map(str, rel.types)))
        assert types["timestamp"] == "TIMESTAMP WITH TIME ZONE" and types["date"] == "DATE"
        assert rel.columns[-1] == "date"  # partition column last, as with read_parquet(hive_partitioning)
        assert con.sql("SELECT date::varchar, count(*) FROM telemetry GROUP BY 1 ORDER BY 1").fetchall() == [
            ("2026-01-01", 10), ("2026-01-02", 11), ("2026-01-03", 12)]
    if layout.is_local:  # users' `duckdb -readonly warehouse.duckdb` keeps working
        with duckdb.connect(str(build.path), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 33
    else:  # object storage: a script for DuckDB with httpfs, no secrets in it
        script = build.path.read_text()
        assert build.path.name == "warehouse.sql" and not layout.duckdb_path.exists()
        assert f"read_parquet('{layout.store.url}/parquet/telemetry/date=*/*.parquet'" in script
        assert "PROVIDER credential_chain" in script and "fleet-test-secret" not in script
