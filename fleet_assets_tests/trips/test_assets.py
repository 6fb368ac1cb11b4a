"""Trip assets materialized with dg.materialize over a landing zone filled by the ingest service."""

from __future__ import annotations

import duckdb
import dagster as dg

from fleet_assets.ingest.synthetic import utc
from fleet_assets.storage.parquet_partitions import parquet_glob, read_partition
from fleet_assets.trips.assets import TRIP_ASSETS


def _materialize(storage, day):
    result = dg.materialize(TRIP_ASSETS, partition_key=day, resources={"storage": storage})
    assert result.success
    return result


def test_materialize_days_of_a_midnight_trip(storage, land_trip):
    trip = land_trip(start=utc(2025, 3, 4, 23, 59, 0), n=120, per_chunk=50)  # 60 s on each day, one DTC at seq 60
    land_trip(start=utc(2025, 3, 4, 12, 0, 0), n=30)
    first = _materialize(storage, "2025-03-04")
    second = _materialize(storage, "2025-03-05")

    events_4 = read_partition(storage.dataset("edge_events"), "2025-03-04")
    events_5 = read_partition(storage.dataset("edge_events"), "2025-03-05")
    assert events_5.num_rows == 60 and set(events_5["trip_id"].to_pylist()) == {trip.trip_id}
    assert events_4.num_rows == 59 + 29  # the DTC seqs are not events
    assert read_partition(storage.dataset("edge_dtcs"), "2025-03-04")["code"].to_pylist() == ["P0301", "P0301"]

    summaries_4 = read_partition(storage.dataset("trip_summaries"), "2025-03-04").to_pylist()
    assert len(summaries_4) == 2 and read_partition(storage.dataset("trip_summaries"), "2025-03-05").num_rows == 0
    long_trip = next(s for s in summaries_4 if s["trip_id"] == trip.trip_id)
    assert long_trip["event_count"] == 119 and long_trip["distance_km"] > 1.0 and long_trip["dtc_codes"] == ["P0301"]

    telemetry = read_partition(storage.dataset("normalized_edge"), "2025-03-05")
    assert telemetry.num_rows == 60 and set(telemetry["provider"].to_pylist()) == {"edge"}

    meta = first.asset_materializations_for_node("edge_events")[0].metadata
    assert meta["dagster/row_count"].value == 88 and "preview" in meta
    checks = first.get_asset_check_evaluations() + second.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    assert {c.check_name for c in checks} >= {"no_duplicate_trip_seq", "lat_lon_in_range", "ts_within_day", "one_row_per_trip"}

    # idempotent: re-materializing replaces, never appends
    _materialize(storage, "2025-03-05")
    rows = duckdb.sql(f"select count(*), count(distinct (trip_id, seq)) from read_parquet('{parquet_glob(storage.dataset('edge_events'))}', hive_partitioning=true)").fetchall()[0]
    assert rows == (148, 148)


def test_empty_day_writes_empty_partitions(storage):
    _materialize(storage, "2025-02-01")
    for name in ("edge_events", "edge_dtcs", "trip_summaries", "normalized_edge"):
        assert read_partition(storage.dataset(name), "2025-02-01").num_rows == 0
