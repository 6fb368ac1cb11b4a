"""Warehouse area definitions: catalog and retention jobs and their schedules (resource-free; bound in fleet_assets.definitions)."""

import dagster as dg

from fleet_assets.warehouse.assets import warehouse_catalog
from fleet_assets.warehouse.ops import prune_old_partitions

warehouse_catalog_job = dg.define_asset_job(
    "warehouse_catalog_job", selection=dg.AssetSelection.assets(warehouse_catalog),
    description="Recreate the DuckDB views over the Parquet datasets.",
)


@dg.job(description="Storage retention: delete partitions older than keep_days (default 400).")
def storage_retention_job():
    prune_old_partitions()


warehouse_catalog_schedule = dg.ScheduleDefinition(
    name="warehouse_catalog_schedule", job=warehouse_catalog_job, cron_schedule="45 3 * * *", execution_timezone="UTC"
)
storage_retention_schedule = dg.ScheduleDefinition(
    name="storage_retention_schedule", job=storage_retention_job, cron_schedule="30 4 * * 0", execution_timezone="UTC"
)

defs = dg.Definitions(
    assets=[warehouse_catalog],
    jobs=[warehouse_catalog_job, storage_retention_job],
    schedules=[warehouse_catalog_schedule, storage_retention_schedule],
)
