"""The pipeline assets under dg.materialize: three days, re-runs, bad inputs, checks, catalog."""

import gzip
import hashlib

import dagster as dg
import pytest

from fleet_assets.provider_ingest.assets import normalized_motive, normalized_samsara, telemetry
from fleet_assets.warehouse.assets import warehouse_catalog
from fleet_assets.storage.catalog import connect_catalog_readonly, connect_parquet
from fleet_assets.storage.parquet_partitions import PART_FILE, list_partitions, partition_dir
from fleet_assets.storage.publish import ValidationError
from fleet_assets.storage.raw_store import raw_day_dir, read_raw, write_raw
from fleet_assets.transforms import MalformedRecordsError

from .conftest import DAYS, POINTS, seed_raw  # noqa: TID252

DOWNSTREAM = [normalized_motive, normalized_samsara, telemetry]


def _run(storage, day, assets=DOWNSTREAM, **kwargs):
    return dg.materialize(assets, partition_key=day, resources={"storage": storage}, **kwargs)


def _query(storage, sql):
    with connect_parquet(storage.root / "parquet") as con:
        return con.execute(sql).fetchall()


def test_three_days_land_with_checks_and_metadata(storage):
    for day in DAYS:
        seed_raw(storage, day)
        result = _run(storage, day)
        assert result.success
        checks = result.get_asset_check_evaluations()
        assert len(checks) == 15 and all(c.passed for c in checks), [c for c in checks if not c.passed]
    assert list_partitions(storage.dataset("telemetry")) == list(DAYS)
    # motive 3 x 24 in-day + samsara 2 x 24; the shared VIN collides 24 times per day.
    per_day = _query(storage, "SELECT date::VARCHAR, count(*) FROM telemetry GROUP BY 1 ORDER BY 1")
    assert per_day == [(d, 3 * POINTS + 2 * POINTS - POINTS) for d in DAYS]
    shared = _query(storage, "SELECT DISTINCT provider FROM telemetry WHERE vin = 'SHAREDVIN00000001'")
    assert shared == [("samsara",)]
    vinless = _query(storage, "SELECT provider_vehicle_id, count(*) FROM telemetry WHERE vin IS NULL AND date = '2026-03-01' GROUP BY 1 ORDER BY 1")
    assert vinless == [("2", POINTS), ("3", POINTS)]
    metric = _query(storage, "SELECT round(speed_mph, 4), round(odometer, 4) FROM normalized_motive WHERE provider_vehicle_id = '2' ORDER BY timestamp LIMIT 1")
    assert metric == [(round(30 * 0.621371192237334, 4), round(1000 / 1.609344, 4))]
    engine = _query(storage, "SELECT DISTINCT engine_state, driver_id FROM normalized_samsara WHERE provider_vehicle_id = 's1'")
    assert engine == [("On", "d1")]  # state from the previous day, open-ended assignment

    mat = result.asset_materializations_for_node("telemetry")[0].metadata
    assert mat["dagster/row_count"].value == 3 * POINTS + POINTS
    assert mat["duplicates_dropped"].value == POINTS
    assert "| provider" in mat["preview"].value and mat["path"].value.endswith(PART_FILE)
    nm = _run(storage, DAYS[0], [normalized_motive]).asset_materializations_for_node("normalized_motive")[0].metadata
    assert nm["duplicates_dropped"].value == 3 and nm["outside_day_dropped"].value == 12


def test_rerun_is_byte_identical(storage):
    seed_raw(storage, DAYS[0])
    _run(storage, DAYS[0])
    sql = "SELECT * FROM telemetry ORDER BY ALL"
    first = _query(storage, sql)
    digest = hashlib.sha256((partition_dir(storage.dataset("telemetry"), DAYS[0]) / PART_FILE).read_bytes()).hexdigest()
    assert _run(storage, DAYS[0]).success
    assert _query(storage, sql) == first
    assert hashlib.sha256((partition_dir(storage.dataset("telemetry"), DAYS[0]) / PART_FILE).read_bytes()).hexdigest() == digest


def test_one_day_rerun_touches_only_that_partition(storage):
    for day in DAYS:
        seed_raw(storage, day)
        _run(storage, day)
    before = {d: (partition_dir(storage.dataset("telemetry"), d) / PART_FILE).stat().st_mtime_ns for d in DAYS}
    _run(storage, DAYS[1])
    after = {d: (partition_dir(storage.dataset("telemetry"), d) / PART_FILE).stat().st_mtime_ns for d in DAYS}
    assert after[DAYS[0]] == before[DAYS[0]] and after[DAYS[2]] == before[DAYS[2]] and after[DAYS[1]] != before[DAYS[1]]


def _corrupt(storage, provider, day, name, data):
    raw = read_raw(storage.raw_dir, provider, day)
    write_raw(storage.raw_dir, provider, day, {**raw.files, name: data}, raw.manifest)


@pytest.mark.parametrize(
    "provider, name, data, error, message",
    [
        ("samsara", "stats", b'{"id": "s1", "gps": [{"time": "2026-03-01T01:00:00Z", "lat', MalformedRecordsError, "malformed samsara stats history records"),
        # past FAST_MIN_BYTES: the fast reader is tried first and gives Arrow's error
        ("samsara", "stats", b'{"id": "s1", "name": "Truck s1"}\n' * 40_000 + b'{"id": "s2", "gps": [{"time": "2026-03-01T01',
         MalformedRecordsError, "malformed samsara stats history records"),
        ("motive", "locations", b'{"vehicle_id": "1", "vehicle_location": {"located_at": "2026-03-01T01:00:00Z", "lon": 1}}\n',
         MalformedRecordsError, "record 0 has no lat"),
        ("motive", "locations", b'{"vehicle_id": "1", "vehicle_location": {"located_at": "2026-03-01T01:00:00Z", "lat": 95.5, "lon": 1}}\n',
         ValidationError, "coordinates_in_range"),
    ],
)
def test_bad_raw_input_fails_clearly_and_keeps_previous_partition(storage, provider, name, data, error, message):
    day = DAYS[0]
    seed_raw(storage, day)
    _run(storage, day)
    dataset = storage.dataset(f"normalized_{provider}")
    good = (partition_dir(dataset, day) / PART_FILE).read_bytes()
    good_telemetry = (partition_dir(storage.dataset("telemetry"), day) / PART_FILE).read_bytes()
    _corrupt(storage, provider, day, name, data)
    with pytest.raises(error, match=message):
        _run(storage, day)
    assert (partition_dir(dataset, day) / PART_FILE).read_bytes() == good
    assert (partition_dir(storage.dataset("telemetry"), day) / PART_FILE).read_bytes() == good_telemetry
    assert not [p for p in partition_dir(dataset, day).iterdir() if p.name != PART_FILE]


def test_missing_raw_fails_without_writing(storage):
    with pytest.raises(FileNotFoundError, match="materialize raw_motive first"):
        _run(storage, DAYS[0], [normalized_motive])
    assert list_partitions(storage.dataset("normalized_motive")) == []


def test_telemetry_uses_whichever_sources_exist(storage):
    seed_raw(storage, DAYS[0])
    assert _run(storage, DAYS[0], [normalized_samsara, telemetry]).success
    assert _query(storage, "SELECT DISTINCT provider FROM telemetry") == [("samsara",)]
    assert _run(storage, DAYS[1], [telemetry]).success  # no sources at all: an empty, valid partition
    assert _query(storage, "SELECT count(*) FROM telemetry WHERE date = '2026-03-02'") == [(0,)]


def test_catalog_asset_builds_views(storage):
    seed_raw(storage, DAYS[0])
    _run(storage, DAYS[0])
    result = dg.materialize([warehouse_catalog], resources={"storage": storage})
    meta = result.asset_materializations_for_node("warehouse_catalog")[0].metadata
    assert meta["view_count"].value == 3
    with connect_catalog_readonly(storage.duckdb_path) as con:
        assert con.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 4 * POINTS


def test_raw_store_is_gzip_ndjson(storage):
    seed_raw(storage, DAYS[0])
    version = (raw_day_dir(storage.raw_dir, "samsara", DAYS[0]) / "CURRENT").read_text()
    data = gzip.decompress((raw_day_dir(storage.raw_dir, "samsara", DAYS[0]) / version / "stats.ndjson.gz").read_bytes())
    assert data.count(b"\n") == 2 and data.startswith(b"{")
