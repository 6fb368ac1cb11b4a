"""Trip assets materialized with dg.materialize over a landing zone filled by the ingest service."""

from __future__ import annotations

import dagster as dg
import duckdb
import pyarrow.compute as pc

from fleet_assets.ingest.synthetic import utc
from fleet_assets.storage.parquet_partitions import parquet_glob, read_partition
from fleet_assets.trips import trip_transforms
from fleet_assets.trips.assets import TRIP_ASSETS
from fleet_assets.trips.landing_reader import load_trips_on_day


def _materialize(storage, day):
    result = dg.materialize(TRIP_ASSETS, partition_key=day, resources={"storage": storage})
    assert result.success
    return result


def _materialization(result, asset):
    """By asset key: edge_events is one output of the trip_datasets multi-asset node."""
    return next(e.materialization for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey(asset))


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

    meta = _materialization(first, "edge_events").metadata
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


def _spy_reads(monkeypatch):
    """Count landing-zone day reads (the real reader runs; only the calls are counted)."""
    from fleet_assets.trips import assets

    calls = []
    real = assets.trip_groups_on_day

    def counting(zone, day):
        calls.append(day)
        return real(zone, day)

    monkeypatch.setattr(assets, "trip_groups_on_day", counting)
    return calls


def test_landing_zone_is_read_once_per_run_and_outputs_match_the_transforms(backend_storage, backend_zone,
                                                                            backend_land_trip, monkeypatch):
    storage, zone, land_trip = backend_storage, backend_zone, backend_land_trip
    land_trip(start=utc(2025, 3, 4, 23, 59, 0), n=120, per_chunk=50)
    land_trip(start=utc(2025, 3, 4, 12, 0, 0), n=30)
    calls = _spy_reads(monkeypatch)
    _materialize(storage, "2025-03-04")
    assert calls == ["2025-03-04"]

    # Each dataset is exactly what the pure transforms give for one read of the day.
    day = "2025-03-04"
    batch = load_trips_on_day(zone, day)
    started = batch.trips.filter(pc.equal(pc.strftime(batch.trips["started_at"], format="%Y-%m-%d"), day))
    expected = {
        "edge_events": trip_transforms.events_on_day(trip_transforms.prepare_events(batch.events, batch.trips), day),
        "edge_dtcs": trip_transforms.dtcs_on_day(batch.dtcs, day),
        "trip_summaries": trip_transforms.summarize_trips(trip_transforms.prepare_events(batch.events, started), batch.dtcs,
                                                     started),
    }
    for name, table in expected.items():
        assert read_partition(storage.dataset(name), day).to_pylist() == table.to_pylist(), name
        assert table.num_rows > 0, name


def test_a_subset_run_reads_once_and_writes_only_what_was_selected(storage, land_trip, monkeypatch):
    from fleet_assets.trips.assets import trip_datasets

    land_trip(start=utc(2025, 3, 4, 12, 0, 0), n=30)
    calls = _spy_reads(monkeypatch)
    result = dg.materialize([trip_datasets], partition_key="2025-03-04", resources={"storage": storage},
                            selection=[dg.AssetKey("trip_summaries")])
    assert result.success and calls == ["2025-03-04"]
    assert read_partition(storage.dataset("trip_summaries"), "2025-03-04").num_rows == 1
    assert read_partition(storage.dataset("edge_events"), "2025-03-04") is None
    assert {c.check_name for c in result.get_asset_check_evaluations()} == {"one_row_per_trip", "started_within_day"}


def test_trip_summaries_declares_no_inputs_it_does_not_read(storage):
    graph = dg.Definitions(assets=TRIP_ASSETS, resources={"storage": storage}).resolve_asset_graph()
    assert graph.get(dg.AssetKey("trip_summaries")).parent_keys == set()
    assert graph.get(dg.AssetKey("normalized_edge")).parent_keys == {dg.AssetKey("edge_events")}
