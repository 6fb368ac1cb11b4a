"""The ``analytics_upload`` asset: one day's partitions → the IcsAnalytics GraphQL backend, exactly once.

Automation: nothing else requests ``analytics_upload`` (the nightly job and the
trip sensor stop at ``telemetry``), so a declarative condition does: once a
day's ``telemetry`` has landed or been re-landed (nightly lookback, trip
sensor, provider-failure rebuild) and no upstream of the day is still running,
the day is uploaded; the ledger sends only what is new. Only days in the
lookback window qualify: a historical backfill selects ``analytics_upload``
itself (README "Automation").
"""

from datetime import timedelta

import dagster as dg

from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.analytics.upload_metadata import upload_metadata
from fleet_assets.analytics.day_shards import stored_day
from fleet_assets.analytics.wiring import open_upload
from fleet_assets.partitions import daily_partitions
from fleet_assets.settings import lookback_days
from fleet_assets.state.postgres import StateError
from fleet_assets.warehouse.resources import FleetStorage

UPSTREAM = ("telemetry", "edge_events", "edge_dtcs")


def upload_condition(window_days: int) -> dg.AutomationCondition:
    """Upstream of the day updated since the last request/upload, telemetry present, nothing upstream running."""
    telemetry_missing = dg.AutomationCondition.any_deps_match(dg.AutomationCondition.missing()).allow(
        dg.AssetSelection.assets("telemetry"))
    return (
        dg.AutomationCondition.in_latest_time_window(timedelta(days=window_days))
        & dg.AutomationCondition.any_deps_updated().since(
            dg.AutomationCondition.newly_requested() | dg.AutomationCondition.newly_updated())
        & ~telemetry_missing
        & ~dg.AutomationCondition.any_deps_in_progress()
        & ~dg.AutomationCondition.in_progress()
    ).with_label("the day's telemetry (and trip assets) landed")


@dg.asset(
    partitions_def=daily_partitions,
    deps=[dg.AssetKey(name) for name in UPSTREAM],
    automation_condition=upload_condition(lookback_days() + 1),
    group_name="analytics",
    kinds={"graphql", "duckdb"},
    description="The day's GPS (telemetry), OBD signals (edge_events), DTCs (edge_dtcs) and per-source "
                "ingest statistics, uploaded to the IcsAnalytics GraphQL backend exactly once "
                "(ledger: analytics_ledger.duckdb, or PostgreSQL when FLEET_STATE_URL is set; scoped to the "
                "backend's identity). A missing upstream partition means nothing to send for that kind. Runs of different days proceed together: the "
                "ledger is locked only for its short commits.",
)
def analytics_upload(context: dg.AssetExecutionContext, storage: FleetStorage,
                     analytics: AnalyticsResource) -> dg.MaterializeResult:
    partition_key = context.partition_key
    settings = analytics.upload_settings()
    try:
        with stored_day(storage.dataset, partition_key, settings.shard_rows) as shards:  # read shard by shard
            missing = [name for name in UPSTREAM if name not in shards.present]
            if missing:
                context.log.info("analytics %s: no partition for %s; nothing to send for those", partition_key,
                                 missing)
            with open_upload(settings, storage.layout, context.log) as upload:
                report = upload.uploader.upload(partition_key, shards)
    except StateError as exc:  # FLEET_STATE_URL unreachable or refused: the CLI's one line, as the failure
        raise dg.Failure(description=str(exc)) from None
    return dg.MaterializeResult(metadata={**upload_metadata(report, upload.ledger),
                                          "endpoint": upload.endpoint_label, "backend_id": upload.ledger.endpoint})
