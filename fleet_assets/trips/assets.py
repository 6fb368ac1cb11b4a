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

from collections.abc import Iterable, Iterator

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.dataset_checks import check_results, check_specs
from fleet_assets.days import in_day
from fleet_assets.ingest.landing import LandingZone
from fleet_assets.partitions import daily_partitions
from fleet_assets.storage.parquet_partitions import open_partition, shard_row_groups
from fleet_assets.storage.publish import publish_shards
from fleet_assets.transforms.rules import DATASET_RULES
from fleet_assets.trips import trip_transforms
from fleet_assets.trips.landing_reader import TripBatch, trip_groups_on_day
from fleet_assets.trips.edge_schemas import (EDGE_DTCS_SCHEMA, EDGE_EVENTS_SCHEMA, TRIP_SUMMARIES_SCHEMA)
from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.warehouse.resources import FleetStorage

GROUP = "trips"
PREVIEW_ROWS = 5
COMMON = {"partitions_def": daily_partitions}


class LandedSummary:
    """UI metadata of a partition gathered shard by shard as it lands: rows, time span, preview."""

    def __init__(self, time_col: str):
        self.time_col, self.rows, self.first, self.last, self.preview = time_col, 0, None, None, None

    def __call__(self, landed: pa.Table) -> None:
        if not landed.num_rows:
            return
        span = pc.min_max(landed[self.time_col]).as_py()
        self.first = span["min"] if self.first is None or (span["min"] and span["min"] < self.first) else self.first
        self.last = span["max"] if self.last is None or (span["max"] and span["max"] > self.last) else self.last
        if self.preview is None or self.preview.num_rows < PREVIEW_ROWS:
            head = landed.slice(0, PREVIEW_ROWS)
            self.preview = head if self.preview is None else pa.concat_tables([self.preview, head]).slice(0, PREVIEW_ROWS)
        self.rows += landed.num_rows

    def metadata(self) -> dict:
        meta: dict = {"dagster/row_count": self.rows}
        if self.rows:
            meta["first_ts"], meta["last_ts"] = self.first.isoformat(), self.last.isoformat()
            meta["preview"] = dg.MetadataValue.md(self.preview.to_pandas().to_markdown(index=False))
        return meta


def _publish(storage: FleetStorage, dataset: str, day: str, shards: Iterable[pa.Table], shard_count: int,
             schema: pa.Schema, time_col: str, selected_checks=None, **extra) -> dg.MaterializeResult:
    """Publish one partition shard by shard (check each, write, publish once, read back, re-check) with metadata.

    Memory is one shard's: the metadata is gathered from each landed shard (:class:`LandedSummary`).
    """
    landed = LandedSummary(time_col)
    published = publish_shards(storage.dataset(dataset), day, shards, DATASET_RULES[dataset], schema=schema,
                               shard_count=shard_count or None, on_landed=landed)
    meta = {**landed.metadata(), "path": dg.MetadataValue.path(str(published.written.path)),
            "bytes": published.written.bytes, "shards": shard_count}
    meta.update({k: v() if callable(v) else v for k, v in extra.items()})
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
    """One pass over the day's trips, group by group (whole vehicles, bounded records: a shard).

    edge_events (the volume) streams straight into its partition; a group's DTCs and trip summaries
    (a few rows per trip) are kept per shard and published after, as the same shards.
    """
    day = context.partition_key
    groups = trip_groups_on_day(LandingZone.for_layout(storage.layout), day)  # the run's only landing-zone read
    selected = {key.to_user_string() for key in context.selected_asset_keys}
    checks = context.selected_asset_check_keys
    small: dict[str, list[pa.Table]] = {"edge_dtcs": [], "trip_summaries": []}
    skewed = [0]

    def shards() -> Iterator[pa.Table]:
        for batch in groups.batches():
            events, dtcs, summaries = _shard_tables(batch, day)
            skewed[0] += pc.sum(events["clock_skew"]).as_py() or 0
            small["edge_dtcs"].append(dtcs)
            small["trip_summaries"].append(summaries)
            yield events

    context.log.info(f"trip_datasets {day}: {groups.trip_count} trips in {len(groups)} shards")
    if "edge_events" in selected:
        yield _publish(storage, "edge_events", day, shards(), len(groups), EDGE_EVENTS_SCHEMA, "ts", checks,
                       trips=groups.trip_count, clock_skew_events=lambda: skewed[0])
        context.log.info(f"edge_events {day}: {skewed[0]} clock-skewed events")
    else:
        for _ in shards():
            pass
    if "edge_dtcs" in selected:
        yield _publish(storage, "edge_dtcs", day, small["edge_dtcs"], len(groups), EDGE_DTCS_SCHEMA, "ts", checks,
                       trips=groups.trip_count)
    if "trip_summaries" in selected:
        distance = round(sum(pc.sum(t["distance_km"]).as_py() or 0.0 for t in small["trip_summaries"]), 3)
        yield _publish(storage, "trip_summaries", day, small["trip_summaries"], len(groups), TRIP_SUMMARIES_SCHEMA,
                       "started_at", checks, total_distance_km=distance)


def _shard_tables(batch: TripBatch, day: str) -> tuple[pa.Table, pa.Table, pa.Table]:
    """(edge_events, edge_dtcs, trip_summaries) of one group of whole trips: every transform is per trip."""
    prepared = trip_transforms.prepare_events(batch.events, batch.trips)
    started = batch.trips.filter(in_day(batch.trips["started_at"], day))
    started_events = prepared.filter(pc.is_in(prepared["trip_id"], started["trip_id"]))
    return (trip_transforms.events_on_day(prepared, day), trip_transforms.dtcs_on_day(batch.dtcs, day),
            trip_transforms.summarize_trips(started_events, batch.dtcs, started))


@dg.asset(name="normalized_edge", group_name=GROUP, kinds={"parquet"}, check_specs=check_specs("normalized_edge"),
          deps=["edge_events"], description="Edge GPS events in the unified telemetry schema (provider 'edge', "
          "speed in mph).", **COMMON)
def normalized_edge(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    """edge_events read shard by shard (its row-group index; whole vehicles each), projected, published per shard."""
    day = context.partition_key
    with open_partition(storage.dataset("edge_events"), day) as pf:
        if pf is None:
            units: list[list[int]] = []
        else:
            index = shard_row_groups(pf)
            units = list(index[1].values()) if index else [list(range(pf.metadata.num_row_groups))]

        def shards() -> Iterator[pa.Table]:
            for row_groups in units:
                events = (pf.read_row_groups(row_groups).cast(EDGE_EVENTS_SCHEMA) if row_groups
                          else EDGE_EVENTS_SCHEMA.empty_table())
                yield trip_transforms.to_telemetry(events)

        return _publish(storage, "normalized_edge", day, shards(), len(units), TELEMETRY_SCHEMA, "timestamp")


TRIP_ASSETS = [trip_datasets, normalized_edge]
