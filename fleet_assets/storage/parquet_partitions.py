"""Hive-style daily Parquet partitions, replaced atomically, on local disk or object storage.

Layout: ``<dataset>/date=YYYY-MM-DD/part-0.parquet``, keys below a dataset's
:class:`StoreDir` (``parquet/<name>`` in the data layout). Each partition is
exactly one object, built completely in a staging file and then published in
one step (:meth:`ObjectStore.upload`): on local disk a hidden temp file in the
same directory, fsynced, then ``os.replace``; on S3 one PUT, or a multipart
upload that only becomes visible when completed. Readers (DuckDB, Polars,
pandas, BigQuery) therefore see either the previous partition or the new one,
never an empty or doubled one, even if the writer is SIGKILLed; and the cost of
replacing a partition does not depend on how much history exists. Hidden
``.``-prefixed temp files are ignored by ``*.parquet`` globs, pyarrow datasets
and Spark/BigQuery conventions.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fleet_assets.days import partition_key
from fleet_assets.storage.objects import StoreDir, as_dir, staged_file

PART_FILE = "part-0.parquet"
_PARTITION_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")

Dataset = StoreDir | str | Path  # a dataset's StoreDir, or a local dataset directory


@dataclass(frozen=True)
class PartitionWrite:
    path: Path | str  # the local file, or the object's URL on object storage
    rows: int
    bytes: int


def partition_dir_name(day: str | date) -> str:
    """``date=YYYY-MM-DD``: the Hive directory of a day (Parquet datasets and the raw store alike)."""
    return f"date={partition_key(day)}"


def partition_day(dir_name: str) -> str | None:
    """The day of a Hive ``date=YYYY-MM-DD`` directory name, else ``None`` (temp and tomb dirs)."""
    match = _PARTITION_RE.match(dir_name)
    return match.group(1) if match else None


def part_key(dataset: Dataset, day: str | date) -> str:
    """Store key of a day's one data object."""
    return as_dir(dataset).key(partition_dir_name(day), PART_FILE)


def partition_dir(dataset: Dataset, day: str | date) -> Path:
    """The local directory of a day (local stores only: tools and tests that inspect files)."""
    local = as_dir(dataset).local_path
    if local is None:
        raise ValueError(f"{as_dir(dataset).url} is not on local disk")
    return local / partition_dir_name(day)


def write_partition(dataset: Dataset, day: str | date, table: pa.Table) -> PartitionWrite:
    """Atomically replace the partition for ``day`` with ``table`` (may be empty)."""
    root = as_dir(dataset)
    key = part_key(root, day)
    with staged_file(root.store, key) as tmp:
        pq.write_table(
            table,
            tmp,
            compression="zstd",
            row_group_size=1_000_000,
            use_dictionary=True,
            coerce_timestamps="us",
            allow_truncated_timestamps=False,
        )
        size = tmp.stat().st_size
        root.store.upload(key, tmp, consume=True)
    return PartitionWrite(path=root.location(partition_dir_name(day), PART_FILE), rows=table.num_rows, bytes=size)


def read_partition(dataset: Dataset, day: str | date, schema: pa.Schema | None = None) -> pa.Table | None:
    """The partition's table, or ``None`` if it was never written.

    On object storage the object is fetched with ONE GET, so a concurrent replacement yields the old or
    the new partition, never ranges of both (ranged reads of a replaced object could mix them).
    """
    root = as_dir(dataset)
    local = root.local_path
    if local is not None:
        path = local / partition_dir_name(day) / PART_FILE
        return pq.read_table(path, schema=schema) if path.exists() else None
    data = root.store.read(part_key(root, day))
    return None if data is None else pq.read_table(io.BytesIO(data), schema=schema)


def list_partitions(dataset: Dataset) -> list[str]:
    """Sorted ``YYYY-MM-DD`` keys of the partitions that hold a data file (one listing, no per-day probes)."""
    root = as_dir(dataset)
    keys = []
    for key in root.store.list(root.prefix):
        parts = key[len(root.prefix):].strip("/").split("/")
        day = partition_day(parts[0]) if len(parts) == 2 and parts[1] == PART_FILE else None
        if day:
            keys.append(day)
    return sorted(keys)


def delete_partition(dataset: Dataset, day: str | date) -> bool:
    """Remove one partition; returns whether it existed.

    The data object goes first (one atomic delete: readers see the whole day or none of it), then
    whatever else is under the day's prefix (orphaned temp files locally).
    """
    root = as_dir(dataset)
    key = part_key(root, day)
    existed = root.store.exists(key)
    if existed:
        root.store.delete(key)
    root.store.delete_prefix(root.key(partition_dir_name(day)))
    return existed


def parquet_glob(dataset: Dataset) -> str:
    """Glob for ``read_parquet(..., hive_partitioning=true)``: a local path, or an ``s3://`` URL (needs httpfs)."""
    root = as_dir(dataset)
    local = root.local_path
    if local is not None:
        return str(local / "date=*" / "*.parquet")
    return f"{root.url}/date=*/*.parquet"


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (a rename is durable only once its directory is synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
