"""The retention op: deletes partitions past the retention window (an op, not an asset: it produces no data)."""

import dagster as dg
from pydantic import Field

from fleet_assets.storage.retention import delete_old_partitions
from fleet_assets.warehouse.resources import FleetStorage


class RetentionConfig(dg.Config):
    keep_days: int = Field(default=400, ge=0, description="Partitions older than this many days (UTC) are deleted.")
    dry_run: bool = Field(default=False, description="Only report what would be deleted.")


@dg.op(description="Delete Parquet and raw partitions older than keep_days.")
def prune_old_partitions(context: dg.OpExecutionContext, config: RetentionConfig, storage: FleetStorage) -> int:
    expired = delete_old_partitions(
        storage.layout.store_root,
        config.keep_days,
        dry_run=config.dry_run,
        progress=lambda e: context.log.info(f"{'would delete' if config.dry_run else 'deleting'} {e.area}/{e.dataset}/date={e.day}"),
    )
    context.add_output_metadata({"partitions": len(expired), "dry_run": config.dry_run})
    return len(expired)
