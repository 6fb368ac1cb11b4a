"""Hive-style daily Parquet partitions, replaced atomically.

Layout: ``<root>/<dataset>/date=YYYY-MM-DD/part-0.parquet``. Each partition is
exactly one file, written to a hidden temporary name in the same directory,
fsynced, then moved over the old file with ``os.replace``. Readers (DuckDB,
Polars, pandas, BigQuery) therefore see either the previous partition or the
new one, never an empty or doubled one, even if the writer is SIGKILLed; and
the cost of replacing a partition does not depend on how much history exists.
Hidden ``.``-prefixed temp files are ignored by ``*.parquet`` globs and by
Spark/BigQuery conventions.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fleet_assets.days import partition_key

PART_FILE = "part-0.parquet"
_PARTITION_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class PartitionWrite:
    path: Path
    rows: int
    bytes: int


def partition_dir_name(day: str | date) -> str:
    """``date=YYYY-MM-DD``: the Hive directory of a day (Parquet datasets and the raw store alike)."""
    return f"date={partition_key(day)}"


def partition_day(dir_name: str) -> str | None:
    """The day of a Hive ``date=YYYY-MM-DD`` directory name, else ``None`` (temp and tomb dirs)."""
    match = _PARTITION_RE.match(dir_name)
    return match.group(1) if match else None


def partition_dir(dataset_root: Path, day: str | date) -> Path:
    return Path(dataset_root) / partition_dir_name(day)


def write_partition(dataset_root: Path, day: str | date, table: pa.Table) -> PartitionWrite:
    """Atomically replace the partition for ``day`` with ``table`` (may be empty)."""
    target_dir = partition_dir(dataset_root, day)
    target_dir.mkdir(parents=True, exist_ok=True)
    final = target_dir / PART_FILE
    tmp = target_dir / f".{PART_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            row_group_size=1_000_000,
            use_dictionary=True,
            coerce_timestamps="us",
            allow_truncated_timestamps=False,
        )
        fsync_path(tmp)
        os.replace(tmp, final)
        fsync_path(target_dir)
    finally:
        tmp.unlink(missing_ok=True)
    return PartitionWrite(path=final, rows=table.num_rows, bytes=final.stat().st_size)


def read_partition(dataset_root: Path, day: str | date, schema: pa.Schema | None = None) -> pa.Table | None:
    """The partition's table, or ``None`` if it was never written."""
    path = partition_dir(dataset_root, day) / PART_FILE
    if not path.exists():
        return None
    return pq.read_table(path, schema=schema)


def list_partitions(dataset_root: Path) -> list[str]:
    """Sorted ``YYYY-MM-DD`` keys of the partitions that hold a data file."""
    root = Path(dataset_root)
    if not root.exists():
        return []
    keys = []
    for child in root.iterdir():
        key = partition_day(child.name)
        if key and (child / PART_FILE).exists():
            keys.append(key)
    return sorted(keys)


def delete_partition(dataset_root: Path, day: str | date) -> bool:
    """Remove one partition directory; returns whether it existed."""
    target = partition_dir(dataset_root, day)
    if not target.exists():
        return False
    remove_dir(target)
    return True


def remove_dir(target: Path) -> None:
    """Delete a partition directory; renamed to a hidden tomb first so a reader never sees it half deleted."""
    doomed = target.with_name(f".deleting-{target.name}-{uuid.uuid4().hex}")
    os.replace(target, doomed)
    shutil.rmtree(doomed)


def parquet_glob(dataset_root: Path) -> str:
    """Glob for ``read_parquet(..., hive_partitioning=true)``."""
    return str(Path(dataset_root) / "date=*" / "*.parquet")


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a rename is durable only once its directory is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
