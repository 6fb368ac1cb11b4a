"""The DuckDB catalog asset and the retention op (the storage-maintenance side)."""


import dagster as dg
from pydantic import Field

from fleet_assets.resources.storage import FleetStorage
from fleet_assets.storage.catalog import DATASETS, build_catalog
from fleet_assets.storage.retention import delete_old_partitions


@dg.asset(
    deps=[dg.AssetKey(name) for name in DATASETS],
    pool="duckdb_catalog",
    group_name="warehouse",
    kinds={"duckdb"},
    description="warehouse.duckdb: one view per Parquet dataset (read_parquet over the Hive glob). "
    "Rebuilt into a temp file and swapped in atomically; pool 'duckdb_catalog' keeps one writer.",
)
def warehouse_catalog(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    build = build_catalog(storage.root / "parquet", storage.duckdb_path)
    context.log.info(f"catalog {build.path}: views {sorted(build.views)}; no data yet: {build.skipped}")
    table = "\n".join(["| view | glob |", "|---|---|", *(f"| {k} | `{v}` |" for k, v in build.views.items())])
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(build.path)),
            "views": dg.MetadataValue.md(table),
            "view_count": len(build.views),
            "datasets_without_data": ", ".join(build.skipped) or "none",
        }
    )


class RetentionConfig(dg.Config):
    keep_days: int = Field(default=400, ge=0, description="Partitions older than this many days (UTC) are deleted.")
    dry_run: bool = Field(default=False, description="Only report what would be deleted.")


@dg.op(description="Delete Parquet and raw partitions older than keep_days.")
def prune_old_partitions(context: dg.OpExecutionContext, config: RetentionConfig, storage: FleetStorage) -> int:
    expired = delete_old_partitions(
        storage.root,
        config.keep_days,
        dry_run=config.dry_run,
        progress=lambda e: context.log.info(f"{'would delete' if config.dry_run else 'deleting'} {e.area}/{e.dataset}/date={e.day}"),
    )
    context.add_output_metadata({"partitions": len(expired), "dry_run": config.dry_run})
    return len(expired)


@dg.job(description="Storage retention: delete partitions older than keep_days (default 400).")
def storage_retention_job():
    prune_old_partitions()
