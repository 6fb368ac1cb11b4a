"""Hive-style daily Parquet partitions, replaced atomically, on local disk or object storage.

Layout: ``<dataset>/date=YYYY-MM-DD/part-0.parquet``, keys below a dataset's
:class:`StoreDir` (``parquet/<name>`` in the data layout). Each partition is
exactly one object, built completely in a staging file and then published in
one step (:meth:`ObjectStore.upload`): on local disk a hidden temp file in the
same directory, fsynced, then ``os.replace``; on S3 one PUT, or a multipart
upload that only becomes visible when completed. Readers (DuckDB, Polars,
pandas, BigQuery) therefore see either the previous partition or the new one,
never an empty or doubled one, even if the writer is SIGKILLed; and the cost of
replacing a partition does not depend on how much history exists.

A day of any size is written in bounded memory through :func:`partition_writer`
(row groups appended to the staging file as they are produced, published once
when the block exits cleanly) and read back the same way through
:func:`open_partition` (on S3: one GET streamed to a local staging file, then
row groups are read from it). Row groups written per shard are indexed in the
file's key-value metadata (``fleet.shards``), so a reader can fetch one shard's
row groups without the rest of the day; readers that know nothing about shards
see an ordinary single-file Hive partition. Hidden
``.``-prefixed temp files are ignored by ``*.parquet`` globs, pyarrow datasets
and Spark/BigQuery conventions.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fleet_assets.days import partition_key
from fleet_assets.storage.objects import StoreDir, as_dir, staged_file

PART_FILE = "part-0.parquet"
SHARDS_KEY = b"fleet.shards"  # Parquet key-value metadata: {"shards": N, "row_groups": {shard: [first, count]}}
ROW_GROUP_ROWS = 1_000_000
_WRITE_OPTIONS = dict(compression="zstd", coerce_timestamps="us", allow_truncated_timestamps=False)
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


def _dictionary_columns(schema: pa.Schema) -> list[str] | bool:
    """Columns worth Parquet dictionary pages: the flat string ones (ids, VINs, names, states).

    Floats and timestamps are nearly all distinct, so their dictionaries overflow and fall back to plain
    pages after being built: ~25% of the write's CPU for +0.4% file size at the 5M day (measured,
    benchmarks/RESULTS.md). Pages are an encoding detail: readers see the same values either way.
    Nested schemas keep dictionaries everywhere, as before.
    """
    if any(pa.types.is_nested(f.type) for f in schema):
        return True
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            or pa.types.is_binary(f.type) or pa.types.is_dictionary(f.type)]


class PartitionWriter:
    """Appends tables/batches as row groups to one staging file (see :func:`partition_writer`)."""

    def __init__(self, path: Path, schema: pa.Schema | None):
        self._path, self._schema = path, schema
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0
        self._row_groups = 0
        self._shards: dict[int, list[int]] = {}
        self._shard_count: int | None = None

    def _open(self, schema: pa.Schema) -> pq.ParquetWriter:
        if self._writer is None:
            self._schema = self._schema or schema
            self._writer = pq.ParquetWriter(self._path, self._schema, use_dictionary=_dictionary_columns(self._schema),
                                            **_WRITE_OPTIONS)
        return self._writer

    def write(self, data: pa.Table | pa.RecordBatch, *, shard: int | None = None, shards: int | None = None) -> None:
        """Append ``data`` (its own row groups, <= 1M rows each). ``shard``/``shards`` index the row groups
        of shard ``shard`` of ``shards`` (all writes of one partition use the same ``shards``)."""
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        writer = self._open(table.schema)
        if shard is not None:
            if shards is None or not 0 <= shard < shards or self._shard_count not in (None, shards):
                raise ValueError(f"shard {shard} of {shards} does not fit this partition's {self._shard_count} shards")
            self._shard_count = shards
        groups = -(-table.num_rows // ROW_GROUP_ROWS)
        if groups:
            writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        if shard is not None:
            first, count = self._shards.get(shard, [self._row_groups, 0])
            if count and first + count != self._row_groups:
                raise ValueError(f"shard {shard} written in two separate runs of row groups")
            self._shards[shard] = [first, count + groups]
        self._row_groups += groups
        self.rows += table.num_rows

    def _close(self) -> None:
        writer = self._open(self._schema or pa.schema([]))
        if self._shard_count is not None:
            index = {"shards": self._shard_count, "row_groups": {str(k): v for k, v in sorted(self._shards.items())}}
            writer.add_key_value_metadata({SHARDS_KEY: json.dumps(index).encode()})
        writer.close()


@dataclass
class PartitionWriteHandle:
    """What :func:`partition_writer` yields: ``write`` appends; ``result`` is set once the partition is published."""

    writer: PartitionWriter
    result: PartitionWrite | None = field(default=None)

    def write(self, data: pa.Table | pa.RecordBatch, *, shard: int | None = None, shards: int | None = None) -> None:
        self.writer.write(data, shard=shard, shards=shards)

    @property
    def rows(self) -> int:
        return self.writer.rows


@contextlib.contextmanager
def partition_writer(dataset: Dataset, day: str | date, schema: pa.Schema | None = None) -> Iterator[PartitionWriteHandle]:
    """Stream a day into its partition; publish atomically only if the block exits cleanly.

    Each ``write`` appends row groups to a local staging file (memory: one written table at a time);
    on a clean exit the file is published in one step (local: fsync + ``os.replace``; S3: one PUT or
    a multipart upload that only becomes visible when completed). On an exception nothing is
    published: the previous partition stays, and the staging file is removed. ``schema`` may be
    omitted (then the first write decides); with no writes at all the partition is an empty table of
    ``schema``.
    """
    root = as_dir(dataset)
    key = part_key(root, day)
    with staged_file(root.store, key) as tmp:
        handle = PartitionWriteHandle(PartitionWriter(tmp, schema))
        try:
            yield handle
        except BaseException:
            if handle.writer._writer is not None:  # release the file; staged_file removes it
                with contextlib.suppress(Exception):
                    handle.writer._writer.close()
            raise
        handle.writer._close()
        size = tmp.stat().st_size
        root.store.upload(key, tmp, consume=True)
    handle.result = PartitionWrite(path=root.location(partition_dir_name(day), PART_FILE), rows=handle.rows, bytes=size)


def write_partition(dataset: Dataset, day: str | date, table: pa.Table) -> PartitionWrite:
    """Atomically replace the partition for ``day`` with ``table`` (may be empty): the one-write case of
    :func:`partition_writer`."""
    with partition_writer(dataset, day, table.schema) as out:
        out.write(table)
    return out.result


@contextlib.contextmanager
def open_partition(dataset: Dataset, day: str | date) -> Iterator[pq.ParquetFile | None]:
    """The partition as an open ``ParquetFile`` (read row group by row group), or ``None`` if never written.

    Locally the published file is opened directly (an open file survives its replacement: old or
    new, never both). On object storage the object is streamed with ONE GET into a local staging
    file first (ranged reads of a replaced object could mix versions), removed on exit.
    """
    root = as_dir(dataset)
    local = root.local_path
    if local is not None:
        path = local / partition_dir_name(day) / PART_FILE
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            yield None
            return
        with fh, pq.ParquetFile(fh) as pf:
            yield pf
        return
    key = part_key(root, day)
    with staged_file(root.store, key) as tmp:
        if not root.store.download(key, tmp):
            yield None
            return
        with pq.ParquetFile(tmp) as pf:
            yield pf


def shard_row_groups(pf: pq.ParquetFile) -> tuple[int, dict[int, list[int]]] | None:
    """``(shards, {shard: row group indices})`` of a partition written per shard, else ``None``."""
    raw = (pf.metadata.metadata or {}).get(SHARDS_KEY)
    if raw is None:
        return None
    index = json.loads(raw)
    return index["shards"], {int(k): list(range(first, first + count)) for k, (first, count) in index["row_groups"].items()}


def iter_partition_batches(dataset: Dataset, day: str | date, *, columns: list[str] | None = None,
                           batch_size: int = 256_000) -> Iterator[pa.RecordBatch]:
    """The partition's record batches in bounded memory (nothing if it was never written)."""
    with open_partition(dataset, day) as pf:
        if pf is not None:
            yield from pf.iter_batches(batch_size=batch_size, columns=columns)


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
