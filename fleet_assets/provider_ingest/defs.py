"""Resource-free definitions of the provider pipeline (merged in fleet_assets.definitions)."""

from __future__ import annotations

import dagster as dg

from fleet_assets.pipeline.assets import normalized_motive, normalized_samsara, raw_motive, raw_samsara, telemetry
from fleet_assets.pipeline.schedules import build_lookback_schedule
from fleet_assets.pipeline.sensors import build_telemetry_after_provider_failure_sensor, telemetry_job
from fleet_assets.pipeline.warehouse import storage_retention_job, warehouse_catalog

PIPELINE_ASSETS = [raw_motive, raw_samsara, normalized_motive, normalized_samsara, telemetry]

provider_ingest_job = dg.define_asset_job(
    "provider_ingest_job",
    selection=dg.AssetSelection.assets(*PIPELINE_ASSETS),
    description="Fetch Motive and Samsara for one UTC day, normalize, dedup into telemetry.",
)
warehouse_catalog_job = dg.define_asset_job(
    "warehouse_catalog_job", selection=dg.AssetSelection.assets(warehouse_catalog),
    description="Recreate the DuckDB views over the Parquet datasets.",
)

provider_ingest_schedule = build_lookback_schedule(provider_ingest_job, name="provider_ingest_lookback_schedule")
warehouse_catalog_schedule = dg.ScheduleDefinition(
    name="warehouse_catalog_schedule", job=warehouse_catalog_job, cron_schedule="45 3 * * *", execution_timezone="UTC"
)
telemetry_after_provider_failure = build_telemetry_after_provider_failure_sensor()
storage_retention_schedule = dg.ScheduleDefinition(
    name="storage_retention_schedule", job=storage_retention_job, cron_schedule="30 4 * * 0", execution_timezone="UTC"
)

defs = dg.Definitions(
    assets=[*PIPELINE_ASSETS, warehouse_catalog],
    jobs=[provider_ingest_job, telemetry_job, warehouse_catalog_job, storage_retention_job],
    schedules=[provider_ingest_schedule, warehouse_catalog_schedule, storage_retention_schedule],
    sensors=[telemetry_after_provider_failure],
)
