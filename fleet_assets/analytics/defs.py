"""Dagster definitions of the analytics upload (resource-free; bound in fleet_assets.definitions)."""

import dagster as dg

from fleet_assets.analytics.ledger import UploadLedger
from fleet_assets.analytics.metadata import upload_metadata
from fleet_assets.analytics.uploader import PartitionData, PartitionUploader
from fleet_assets.partitions import daily_partitions
from fleet_assets.resources.analytics import AnalyticsResource
from fleet_assets.resources.storage import FleetStorage
from fleet_assets.storage.parquet_partitions import read_partition

UPSTREAM = ("telemetry", "edge_events", "edge_dtcs")


@dg.asset(
    partitions_def=daily_partitions,
    deps=[dg.AssetKey(name) for name in UPSTREAM],
    pool="analytics_ledger",
    group_name="analytics",
    kinds={"graphql", "duckdb"},
    description="The day's GPS (telemetry), OBD signals (edge_events), DTCs (edge_dtcs) and per-source "
                "ingest statistics, uploaded to the IcsAnalytics GraphQL backend exactly once "
                "(ledger: analytics_ledger.duckdb). A missing upstream partition means nothing to send "
                "for that kind.",
)
def analytics_upload(context: dg.AssetExecutionContext, storage: FleetStorage,
                     analytics: AnalyticsResource) -> dg.MaterializeResult:
    day = context.partition_key
    data = PartitionData(**{name: read_partition(storage.dataset(name), day) for name in UPSTREAM})
    missing = [name for name in UPSTREAM if getattr(data, name) is None]
    if missing:
        context.log.info("analytics %s: no partition for %s; nothing to send for those", day, missing)
    ledger = UploadLedger(storage.ledger_path, analytics.endpoint_label, analytics.ledger_lock_timeout_seconds)
    with analytics.open_sender(context.log) as sender:
        report = PartitionUploader(sender, ledger, analytics.upload_settings(), context.log).upload(day, data)
    return dg.MaterializeResult(metadata=upload_metadata(report, storage.ledger_path))


defs = dg.Definitions(assets=[analytics_upload])
