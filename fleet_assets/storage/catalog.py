"""DuckDB access to the Parquet datasets: the warehouse catalog and lock-free readers.

Parquet is the source of truth; ``warehouse.duckdb`` only holds *views*
(``read_parquet(glob, hive_partitioning=true)``), so new partitions show up
without rebuilding it. The catalog is rebuilt into a temporary file and
swapped in with ``os.replace``: no process ever holds a write lock on the
live file, readers keep their open (old) file, and concurrent rebuilds cannot
fail with DuckDB's "Could not set lock" error. Readers that must never wait
use :func:`connect_parquet` (in-memory DuckDB with the same views).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import duckdb

from fleet_assets.storage.parquet_partitions import list_partitions, parquet_glob

DATASETS: tuple[str, ...] = (
    "telemetry",
    "normalized_motive",
    "normalized_samsara",
    "normalized_edge",
    "edge_events",
    "edge_dtcs",
    "trip_summaries",
)


@dataclass(frozen=True)
class CatalogBuild:
    path: Path
    views: dict[str, str]  # view name -> glob
    skipped: list[str]  # datasets without any partition yet


def view_sql(name: str, dataset_root: Path) -> str:
    glob = parquet_glob(dataset_root).replace("'", "''")
    return (
        f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet('
        f"'{glob}', hive_partitioning = true, hive_types = {{'date': DATE}})"
    )


def available_datasets(parquet_root: Path, datasets: tuple[str, ...] = DATASETS) -> dict[str, Path]:
    """Datasets that have at least one partition (a view over an empty glob would fail)."""
    roots = {name: Path(parquet_root) / name for name in datasets}
    return {name: root for name, root in roots.items() if list_partitions(root)}


def create_views(con: duckdb.DuckDBPyConnection, parquet_root: Path, datasets: tuple[str, ...] = DATASETS) -> dict[str, str]:
    views = {}
    for name, root in available_datasets(parquet_root, datasets).items():
        con.execute(view_sql(name, root))
        views[name] = parquet_glob(root)
    return views


def build_catalog(parquet_root: Path, duckdb_path: Path, datasets: tuple[str, ...] = DATASETS) -> CatalogBuild:
    """(Re)create ``duckdb_path`` with one view per available dataset, atomically."""
    duckdb_path = Path(duckdb_path)
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = duckdb_path.with_name(f".{duckdb_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            views = create_views(con, parquet_root, datasets)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, duckdb_path)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    skipped = [name for name in datasets if name not in views]
    return CatalogBuild(path=duckdb_path, views=views, skipped=skipped)


def connect_catalog_readonly(duckdb_path: Path) -> duckdb.DuckDBPyConnection:
    """Read-only connection to the warehouse catalog (for BI tools and notebooks)."""
    if not Path(duckdb_path).exists():
        raise FileNotFoundError(f"{duckdb_path} does not exist yet: run `fleet-storage rebuild-catalog` or materialize warehouse_catalog")
    return duckdb.connect(str(duckdb_path), read_only=True)


def connect_parquet(parquet_root: Path, datasets: tuple[str, ...] = DATASETS) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with the catalog's views: never touches a .duckdb file, never waits on a lock."""
    con = duckdb.connect(":memory:")
    create_views(con, parquet_root, datasets)
    return con
