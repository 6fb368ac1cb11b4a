"""The DuckDB catalog asset: read views over every Parquet dataset."""


import dagster as dg

from fleet_assets.warehouse.resources import FleetStorage
from fleet_assets.storage.catalog import DATASETS, build_catalog


@dg.asset(
    deps=[dg.AssetKey(name) for name in DATASETS],
    pool="duckdb_catalog",
    group_name="warehouse",
    kinds={"duckdb"},
    description="warehouse.duckdb: one view per Parquet dataset (read_parquet over the Hive glob). "
    "Rebuilt into a temp file and swapped in atomically; pool 'duckdb_catalog' keeps one writer. "
    "Datasets on object storage: warehouse.sql (the same views over s3:// globs, for DuckDB with httpfs).",
)
def warehouse_catalog(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    build = build_catalog(storage.layout.parquet_dir, storage.duckdb_path)
    context.log.info(f"catalog {build.path}: views {sorted(build.views)}; no data yet: {build.skipped}")
    table = "\n".join(["| view | rows | glob |", "|---|---|---|",
                       *(f"| {k} | {build.rows.get(k, '')} | `{v}` |" for k, v in build.views.items())])
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(build.path)),
            "views": dg.MetadataValue.md(table),
            "view_count": len(build.views),
            "rows": dg.MetadataValue.json(build.rows),
            "datasets_without_data": ", ".join(build.skipped) or "none",
        }
    )
