"""DuckDB access to the Parquet datasets: the warehouse catalog and lock-free readers.

Parquet is the source of truth; the catalog only holds *views*, so new
partitions show up without rebuilding it.

Embedded (datasets on local disk): ``warehouse.duckdb`` holds
``read_parquet(glob, hive_partitioning=true)`` views. It is rebuilt into a
temporary file and swapped in with ``os.replace``: no process ever holds a
write lock on the live file, readers (``duckdb -readonly``, BI tools) keep
their open (old) file, and concurrent rebuilds cannot fail with DuckDB's
"Could not set lock" error.

Object storage: DuckDB reads ``s3://`` only through its ``httpfs`` extension,
which is downloaded on first use (tested: creating even a view over
``read_parquet('s3://...')`` tries that download, so it fails offline). The
platform therefore never needs httpfs: :func:`connect_parquet` registers
``pyarrow.dataset`` datasets (pyarrow's own S3 client) in an in-memory DuckDB
under the same view names. For people with httpfs, :func:`build_catalog` writes
``warehouse.sql`` next to the catalog path: the same views over ``s3://`` globs,
to run once into their own DuckDB file (see its header).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads

from fleet_assets.storage.objects import StoreDir, as_dir
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
SQL_SCRIPT = "warehouse.sql"
_HIVE_DATE = pads.partitioning(pa.schema([("date", pa.date32())]), flavor="hive")


@dataclass(frozen=True)
class CatalogBuild:
    path: Path  # warehouse.duckdb (embedded) or warehouse.sql (object storage)
    views: dict[str, str]  # view name -> glob
    skipped: list[str]  # datasets without any partition yet
    rows: dict[str, int] = field(default_factory=dict)  # view name -> row count


def view_sql(name: str, dataset_root: StoreDir | Path) -> str:
    glob = parquet_glob(dataset_root).replace("'", "''")
    return (
        f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet('
        f"'{glob}', hive_partitioning = true, hive_types = {{'date': DATE}})"
    )


def available_datasets(parquet_root: StoreDir | Path, datasets: tuple[str, ...] = DATASETS) -> dict[str, StoreDir]:
    """Datasets that have at least one partition (a view over an empty glob would fail)."""
    roots = {name: as_dir(parquet_root).child(name) for name in datasets}
    return {name: root for name, root in roots.items() if list_partitions(root)}


def arrow_dataset(dataset_root: StoreDir) -> pads.Dataset:
    """The dataset as a ``pyarrow.dataset`` (hidden temp files skipped, ``date`` typed DATE like the views)."""
    fs, path = dataset_root.arrow_path()
    return pads.dataset(path, filesystem=fs, format="parquet", partitioning=_HIVE_DATE)


def create_views(con: duckdb.DuckDBPyConnection, parquet_root: StoreDir | Path,
                 datasets: tuple[str, ...] = DATASETS) -> dict[str, str]:
    """One view per available dataset: ``read_parquet`` on local disk, a registered Arrow dataset on object storage."""
    views = {}
    for name, root in available_datasets(parquet_root, datasets).items():
        if root.local_path is not None:
            con.execute(view_sql(name, root))
        else:
            con.register(name, arrow_dataset(root))
        views[name] = parquet_glob(root)
    return views


def build_catalog(parquet_root: StoreDir | Path, duckdb_path: Path, datasets: tuple[str, ...] = DATASETS) -> CatalogBuild:
    """(Re)create ``duckdb_path`` with one view per available dataset, atomically.

    On object storage the views cannot be stored offline (see the module docstring): ``warehouse.sql``
    is written next to ``duckdb_path`` instead, and row counts come from the Arrow datasets.
    """
    root = as_dir(parquet_root)
    if root.local_path is None:
        return _build_sql_script(root, Path(duckdb_path).with_name(SQL_SCRIPT), datasets)
    duckdb_path = Path(duckdb_path)
    duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = duckdb_path.with_name(f".{duckdb_path.name}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            views = create_views(con, root, datasets)
            rows = {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in views}
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
    return CatalogBuild(path=duckdb_path, views=views, skipped=skipped, rows=rows)


def _build_sql_script(root: StoreDir, script: Path, datasets: tuple[str, ...]) -> CatalogBuild:
    available = available_datasets(root, datasets)
    views = {name: parquet_glob(d) for name, d in available.items()}
    rows = {name: arrow_dataset(d).count_rows() for name, d in available.items()}
    script.parent.mkdir(parents=True, exist_ok=True)
    tmp = script.with_name(f".{script.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_text(catalog_sql(root, available))
        os.replace(tmp, script)
    finally:
        tmp.unlink(missing_ok=True)
    return CatalogBuild(path=script, views=views, skipped=[n for n in datasets if n not in views], rows=rows)


def catalog_sql(root: StoreDir, available: dict[str, StoreDir]) -> str:
    """DuckDB SQL creating the catalog's views over ``s3://`` globs (needs httpfs; credentials from the AWS chain)."""
    endpoint = ""
    client = getattr(root.store, "client", None)
    if client is not None:
        parsed = urlparse(client.meta.endpoint_url)
        if parsed.hostname and not parsed.hostname.endswith("amazonaws.com"):
            endpoint = (f",\n    ENDPOINT '{parsed.netloc}', URL_STYLE 'path', "
                        f"USE_SSL {'true' if parsed.scheme == 'https' else 'false'}")
        region = client.meta.region_name or "us-east-1"
    else:
        region = "us-east-1"
    lines = [
        f"-- DuckDB views over the fleet datasets in {root.url} (written by fleet-storage rebuild-catalog).",
        "-- Needs the httpfs and aws extensions (downloaded on first use) and the standard AWS credentials:",
        "--   duckdb fleet.duckdb < warehouse.sql      then      duckdb -readonly fleet.duckdb",
        "-- No secret is stored here: PROVIDER credential_chain reads AWS_* variables or ~/.aws at query time.",
        "INSTALL httpfs; LOAD httpfs; INSTALL aws; LOAD aws;",
        f"CREATE OR REPLACE PERSISTENT SECRET fleet_s3 (TYPE s3, PROVIDER credential_chain, REGION '{region}'"
        f"{endpoint},\n    SCOPE '{root.url}');",
        *(view_sql(name, d) + ";" for name, d in available.items()),
    ]
    return "\n".join(lines) + "\n"


def connect_catalog_readonly(duckdb_path: Path) -> duckdb.DuckDBPyConnection:
    """Read-only connection to the warehouse catalog (for BI tools and notebooks)."""
    if not Path(duckdb_path).exists():
        raise FileNotFoundError(f"{duckdb_path} does not exist yet: run `fleet-storage rebuild-catalog` or materialize warehouse_catalog")
    return duckdb.connect(str(duckdb_path), read_only=True)


def connect_parquet(parquet_root: StoreDir | Path, datasets: tuple[str, ...] = DATASETS) -> duckdb.DuckDBPyConnection:
    """In-memory DuckDB with the catalog's views: never touches a .duckdb file, never waits on a lock."""
    con = duckdb.connect(":memory:")
    create_views(con, parquet_root, datasets)
    return con
