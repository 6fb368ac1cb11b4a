"""Dagster definitions of the analytics upload (resource-free; bound in fleet_assets.definitions).

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

from fleet_assets.analytics.ledger import UploadLedger
from fleet_assets.analytics.metadata import upload_metadata
from fleet_assets.analytics.uploader import PartitionData, PartitionUploader
from fleet_assets.partitions import daily_partitions
from fleet_assets.pipeline.schedules import lookback_days
from fleet_assets.resources.analytics import AnalyticsResource
from fleet_assets.resources.storage import FleetStorage
from fleet_assets.storage.parquet_partitions import read_partition

UPSTREAM = ("telemetry", "edge_events", "edge_dtcs")
AUTOMATION_SENSOR = "analytics_upload_automation"


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
                "(ledger: analytics_ledger.duckdb, scoped to the backend's identity). A missing upstream "
                "partition means nothing to send for that kind. Runs of different days proceed together: the "
                "ledger is locked only for its short commits.",
)
def analytics_upload(context: dg.AssetExecutionContext, storage: FleetStorage,
                     analytics: AnalyticsResource) -> dg.MaterializeResult:
    day = context.partition_key
    data = PartitionData(**{name: read_partition(storage.dataset(name), day) for name in UPSTREAM})
    missing = [name for name in UPSTREAM if getattr(data, name) is None]
    if missing:
        context.log.info("analytics %s: no partition for %s; nothing to send for those", day, missing)
    with analytics.open_backend(storage.root, context.log) as backend:
        ledger = UploadLedger(storage.ledger_path, backend.identity, analytics.ledger_lock_timeout_seconds)
        report = PartitionUploader(backend.sender, ledger, analytics.upload_settings(), context.log).upload(day, data)
    return dg.MaterializeResult(metadata={**upload_metadata(report, storage.ledger_path),
                                          "endpoint": analytics.endpoint_label, "backend_id": backend.identity})


# Declared (not Dagster's implicit default sensor, which starts stopped) so uploads run on a fresh `make dev`.
analytics_upload_automation = dg.AutomationConditionSensorDefinition(
    AUTOMATION_SENSOR, target=dg.AssetSelection.assets(analytics_upload), default_status=dg.DefaultSensorStatus.RUNNING,
    description="Uploads a day to IcsAnalytics once its telemetry and trip assets have landed.",
)

defs = dg.Definitions(assets=[analytics_upload], sensors=[analytics_upload_automation])
