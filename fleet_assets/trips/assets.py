"""Daily trip assets built from completed trips in the landing zone.

edge_events / edge_dtcs hold the records whose own UTC ts falls on the day;
trip_summaries holds the trips that *started* on the day (computed over the
whole trip, so a trip crossing midnight is summarised once); normalized_edge
projects edge_events into the unified telemetry schema so ``telemetry``
(provider_ingest area) unions edge and provider data. No IO manager: each asset
writes its own atomic Parquet partition and reports UI metadata.
"""

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.ingest.landing import LandingZone
from fleet_assets.partitions import daily_partitions
from fleet_assets.warehouse.resources import FleetStorage
from fleet_assets.storage.parquet_partitions import read_partition, write_partition
from fleet_assets.trips import transforms
from fleet_assets.trips.checks import DATASET_CHECKS
from fleet_assets.trips.landing_reader import load_trips_on_day
from fleet_assets.trips.edge_schemas import EDGE_EVENTS_SCHEMA

GROUP = "trips"
PREVIEW_ROWS = 5


def _specs(dataset: str) -> list[dg.AssetCheckSpec]:
    return [dg.AssetCheckSpec(name, asset=dataset, blocking=True) for name in DATASET_CHECKS[dataset]]


def _publish(storage: FleetStorage, dataset: str, day: str, table: pa.Table, time_col: str, **extra) -> dg.MaterializeResult:
    """Run the dataset's checks, refuse to write a failing partition, else write atomically."""
    results = {name: check(table, day) for name, check in DATASET_CHECKS[dataset].items()}
    failed = {name: meta for name, (passed, meta) in results.items() if not passed}
    if failed:
        raise ValueError(f"{dataset} {day}: checks failed, partition not written: {failed}")
    written = write_partition(storage.dataset(dataset), day, table)
    meta: dict = {"dagster/row_count": table.num_rows, "path": dg.MetadataValue.path(str(written.path)),
                  "bytes": written.bytes}
    if table.num_rows:
        span = pc.min_max(table[time_col]).as_py()
        meta["first_ts"], meta["last_ts"] = span["min"].isoformat(), span["max"].isoformat()
        meta["preview"] = dg.MetadataValue.md(table.slice(0, PREVIEW_ROWS).to_pandas().to_markdown(index=False))
    meta.update(extra)
    return dg.MaterializeResult(
        metadata=meta,
        check_results=[dg.AssetCheckResult(check_name=name, passed=passed, metadata=m)
                       for name, (passed, m) in results.items()],
    )


def _zone(storage: FleetStorage) -> LandingZone:
    return LandingZone(storage.landing_dir)


def _asset(name: str, description: str, **kwargs):
    return dg.asset(name=name, partitions_def=daily_partitions, group_name=GROUP,
                    kinds={"parquet"}, check_specs=_specs(name), description=description, **kwargs)


@_asset("edge_events", "Events of completed edge trips with ts on the day: deduplicated on (trip_id, seq), "
        "sorted, clock-skewed events flagged.")
def edge_events(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    day = context.partition_key
    batch = load_trips_on_day(_zone(storage), day)
    table = transforms.events_on_day(transforms.prepare_events(batch.events, batch.trips), day)
    skewed = pc.sum(table["clock_skew"]).as_py() or 0
    context.log.info(f"edge_events {day}: {batch.trips.num_rows} trips, {table.num_rows} events, {skewed} clock-skewed")
    return _publish(storage, "edge_events", day, table, "ts", trips=batch.trips.num_rows, clock_skew_events=skewed)


@_asset("edge_dtcs", "Diagnostic trouble codes reported by edge collectors, by the UTC day of their ts.")
def edge_dtcs(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    day = context.partition_key
    batch = load_trips_on_day(_zone(storage), day)
    table = transforms.dtcs_on_day(batch.dtcs, day)
    return _publish(storage, "edge_dtcs", day, table, "ts", trips=batch.trips.num_rows)


@_asset("trip_summaries", "One row per edge trip started on the day: distance, duration, moving/idle time, speeds, "
        "fuel used, harsh braking/acceleration, DTCs.", deps=["edge_events", "edge_dtcs"])
def trip_summaries(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    day = context.partition_key
    batch = load_trips_on_day(_zone(storage), day)
    started = pc.equal(pc.strftime(batch.trips["started_at"], format="%Y-%m-%d"), day)
    trips = batch.trips.filter(started)
    table = transforms.summarize_trips(transforms.prepare_events(batch.events, trips), batch.dtcs, trips)
    distance = round(pc.sum(table["distance_km"]).as_py() or 0.0, 3)
    return _publish(storage, "trip_summaries", day, table, "started_at", total_distance_km=distance)


@_asset("normalized_edge", "Edge GPS events in the unified telemetry schema (provider 'edge', speed in mph).",
        deps=["edge_events"])
def normalized_edge(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    day = context.partition_key
    events = read_partition(storage.dataset("edge_events"), day, schema=EDGE_EVENTS_SCHEMA)
    table = transforms.to_telemetry(events if events is not None else EDGE_EVENTS_SCHEMA.empty_table())
    return _publish(storage, "normalized_edge", day, table, "timestamp")


TRIP_ASSETS = [edge_events, edge_dtcs, trip_summaries, normalized_edge]
