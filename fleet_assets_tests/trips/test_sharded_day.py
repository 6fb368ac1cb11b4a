"""A day read in groups of whole vehicles (shards) gives the same partitions as the day read at once.

The reference is today's unsplit path: the pure transforms over the whole day's trips (``load_trips_on_day``).
Rows are compared as sorted content (a shard changes the file's row order, never its rows), including trips
that cross midnight into the day and out of it, several trips per vehicle and DTCs.
"""

from __future__ import annotations

import hashlib

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fleet_assets.ingest.synthetic import utc
from fleet_assets.storage.parquet_partitions import open_partition, read_partition, shard_row_groups
from fleet_assets.trips import landing_reader, trip_transforms
from fleet_assets.trips.assets import TRIP_ASSETS
from fleet_assets.trips.landing_reader import load_trips_on_day

DAY = "2025-03-04"


def sorted_content_hash(table: pa.Table) -> str:
    rows = sorted(repr(tuple(row.values())) for row in table.to_pylist())
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def _unsplit(zone, day: str) -> dict[str, pa.Table]:
    batch = load_trips_on_day(zone, day)
    started = batch.trips.filter(pc.equal(pc.strftime(batch.trips["started_at"], format="%Y-%m-%d"), day))
    events = trip_transforms.events_on_day(trip_transforms.prepare_events(batch.events, batch.trips), day)
    return {
        "edge_events": events,
        "edge_dtcs": trip_transforms.dtcs_on_day(batch.dtcs, day),
        "trip_summaries": trip_transforms.summarize_trips(trip_transforms.prepare_events(batch.events, started),
                                                          batch.dtcs, started),
        "normalized_edge": trip_transforms.to_telemetry(events),
    }


def _land_day(land_trip) -> None:
    for v in range(5):
        vin = f"1FTFW1E50PFA{v:05d}"
        land_trip(start=utc(2025, 3, 3, 23, 58, v), n=200, per_chunk=70, vin=vin)  # from the day before
        land_trip(start=utc(2025, 3, 4, 8 + v, 0, 0), n=90 + 10 * v, per_chunk=40, vin=vin)
        land_trip(start=utc(2025, 3, 4, 23, 59, v), n=150, per_chunk=60, vin=vin)  # into the next day


@pytest.mark.parametrize("group_records", [1, 800, 10_000])  # every vehicle alone / 2 vehicles / one shard
def test_shards_of_a_day_equal_the_unsplit_day(storage, zone, land_trip, monkeypatch, group_records):
    _land_day(land_trip)
    monkeypatch.setattr(landing_reader, "GROUP_RECORDS", group_records)
    result = dg.materialize(TRIP_ASSETS, partition_key=DAY, resources={"storage": storage})
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)

    expected = _unsplit(zone, DAY)
    for name, table in expected.items():
        landed = read_partition(storage.dataset(name), DAY)
        assert table.num_rows > 0 and landed.num_rows == table.num_rows, name
        assert landed.schema.equals(table.schema), name
        assert sorted_content_hash(landed) == sorted_content_hash(table), name

    shards = {1: 5, 800: 3, 10_000: 1}[group_records]
    with open_partition(storage.dataset("edge_events"), DAY) as pf:
        count, row_groups = shard_row_groups(pf)
        vins = [set(pf.read_row_groups(groups, columns=["vin"])["vin"].to_pylist()) for groups in row_groups.values()]
    assert count == shards and len(vins) == shards
    assert sum(len(v) for v in vins) == len(set().union(*vins)) == 5  # a vehicle never in two shards

    meta = next(e.materialization for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey("edge_events")).metadata
    events = expected["edge_events"]
    assert meta["dagster/row_count"].value == events.num_rows and meta["shards"].value == shards
    assert meta["first_ts"].value == pc.min(events["ts"]).as_py().isoformat()
    assert meta["last_ts"].value == pc.max(events["ts"]).as_py().isoformat()
    assert meta["clock_skew_events"].value == (pc.sum(events["clock_skew"]).as_py() or 0)
    assert "preview" in meta
