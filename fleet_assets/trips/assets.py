"""Daily trip assets built from completed trips in the landing zone.

edge_events / edge_dtcs hold the records whose own UTC ts falls on the day;
trip_summaries holds the trips that *started* on the day (computed over the
whole trip, so a trip crossing midnight is summarised once); normalized_edge
projects edge_events into the unified telemetry schema so ``telemetry``
(provider_ingest area) unions edge and provider data.

The first three come from one multi-asset (``trip_datasets``) that reads the
day's trips from the landing zone once and derives all three, so lineage and
I/O agree: none of them reads another (trip_summaries needs whole trips, also
events past midnight, which edge_events of the day does not hold).
normalized_edge reads the edge_events partition it depends on. No IO manager:
every partition goes through the one publish path
(:func:`fleet_assets.storage.publish.publish_partition`) and reports UI metadata.
"""

from collections.abc import Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.dataset_checks import check_results, check_specs
from fleet_assets.days import in_day
from fleet_assets.ingest.landing import LandingZone
from fleet_assets.partitions import daily_partitions
from fleet_assets.storage.parquet_partitions import read_partition
from fleet_assets.storage.publish import publish_partition
from fleet_assets.transforms.rules import DATASET_RULES
from fleet_assets.trips import trip_transforms
from fleet_assets.trips.landing_reader import TripBatch, load_trips_on_day
from fleet_assets.trips.edge_schemas import EDGE_EVENTS_SCHEMA
from fleet_assets.warehouse.resources import FleetStorage

GROUP = "trips"
PREVIEW_ROWS = 5
COMMON = {"partitions_def": daily_partitions}


def _publish(storage: FleetStorage, dataset: str, day: str, table: pa.Table, time_col: str,
             selected_checks=None, **extra) -> dg.MaterializeResult:
    """Publish one partition (check, write, read back, re-check) and report its metadata and checks."""
    published = publish_partition(storage.dataset(dataset), day, table, DATASET_RULES[dataset])
    landed = published.table
    meta: dict = {"dagster/row_count": landed.num_rows, "path": dg.MetadataValue.path(str(published.written.path)),
                  "bytes": published.written.bytes}
    if landed.num_rows:
        span = pc.min_max(landed[time_col]).as_py()
        meta["first_ts"], meta["last_ts"] = span["min"].isoformat(), span["max"].isoformat()
        meta["preview"] = dg.MetadataValue.md(landed.slice(0, PREVIEW_ROWS).to_pandas().to_markdown(index=False))
    meta.update(extra)
    results = check_results(dataset, published.checks)
    if selected_checks is not None:  # a subset run may leave some of the asset's checks out
        results = [r for r in results if dg.AssetCheckKey(dg.AssetKey(dataset), r.check_name) in selected_checks]
    return dg.MaterializeResult(asset_key=dataset, metadata=meta, check_results=results)


def _spec(name: str, description: str, **kwargs) -> dg.AssetSpec:
    return dg.AssetSpec(name, group_name=GROUP, kinds={"parquet"}, description=description, **kwargs)


TRIP_DATASETS = ("edge_events", "edge_dtcs", "trip_summaries")


@dg.multi_asset(
    name="trip_datasets",
    specs=[
        _spec("edge_events", "Events of completed edge trips with ts on the day: deduplicated on (trip_id, seq), "
              "sorted, clock-skewed events flagged."),
        _spec("edge_dtcs", "Diagnostic trouble codes reported by edge collectors, by the UTC day of their ts."),
        _spec("trip_summaries", "One row per edge trip started on the day: distance, duration, moving/idle time, "
              "speeds, fuel used, harsh braking/acceleration, DTCs."),
    ],
    check_specs=[spec for name in TRIP_DATASETS for spec in check_specs(name)],
    can_subset=True,
    **COMMON,
)
def trip_datasets(context: dg.AssetExecutionContext, storage: FleetStorage) -> Iterator[dg.MaterializeResult]:
    day = context.partition_key
    batch = load_trips_on_day(LandingZone.for_layout(storage.layout), day)  # the run's only landing-zone read
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    checks = context.selected_asset_check_keys
    for name, build in (("edge_events", _edge_events), ("edge_dtcs", _edge_dtcs), ("trip_summaries", _trip_summaries)):
        if name in selected:
            yield build(context, storage, day, batch, checks)


def _edge_events(context, storage: FleetStorage, day: str, batch: TripBatch, checks) -> dg.MaterializeResult:
    table = trip_transforms.events_on_day(trip_transforms.prepare_events(batch.events, batch.trips), day)
    skewed = pc.sum(table["clock_skew"]).as_py() or 0
    context.log.info(f"edge_events {day}: {batch.trips.num_rows} trips, {table.num_rows} events, {skewed} clock-skewed")
    return _publish(storage, "edge_events", day, table, "ts", checks, trips=batch.trips.num_rows,
                    clock_skew_events=skewed)


def _edge_dtcs(context, storage: FleetStorage, day: str, batch: TripBatch, checks) -> dg.MaterializeResult:
    table = trip_transforms.dtcs_on_day(batch.dtcs, day)
    return _publish(storage, "edge_dtcs", day, table, "ts", checks, trips=batch.trips.num_rows)


def _trip_summaries(context, storage: FleetStorage, day: str, batch: TripBatch, checks) -> dg.MaterializeResult:
    trips = batch.trips.filter(in_day(batch.trips["started_at"], day))
    table = trip_transforms.summarize_trips(trip_transforms.prepare_events(batch.events, trips), batch.dtcs, trips)
    distance = round(pc.sum(table["distance_km"]).as_py() or 0.0, 3)
    return _publish(storage, "trip_summaries", day, table, "started_at", checks, total_distance_km=distance)


@dg.asset(name="normalized_edge", group_name=GROUP, kinds={"parquet"}, check_specs=check_specs("normalized_edge"),
          deps=["edge_events"], description="Edge GPS events in the unified telemetry schema (provider 'edge', "
          "speed in mph).", **COMMON)
def normalized_edge(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    day = context.partition_key
    events = read_partition(storage.dataset("edge_events"), day, schema=EDGE_EVENTS_SCHEMA)
    table = trip_transforms.to_telemetry(events if events is not None else EDGE_EVENTS_SCHEMA.empty_table())
    return _publish(storage, "normalized_edge", day, table, "timestamp")


TRIP_ASSETS = [trip_datasets, normalized_edge]
