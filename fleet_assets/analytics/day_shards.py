"""A day's upload inputs as shards of whole vehicles, read in bounded memory.

Every record the upload builds is keyed by vehicle: GPS points and signal
points are deduplicated per (vehicle, time), network stats are per vehicle and
source. A shard that holds ALL rows of its vehicles (telemetry, edge events and
DTCs alike) therefore gives exactly the records the whole day gives for those
vehicles, so the day can be built and sent shard by shard.

A day of at most ``shard_rows`` rows is one shard, read as today. A larger day
is split into ``ceil(rows / shard_rows)`` shards by a stable hash (CRC-32) of
the vehicle key (VIN, else ``provider:provider_vehicle_id``): the partitions are
streamed record batch by record batch into one LZ4 Arrow IPC spill file per
(dataset, shard) in a temporary directory, then read back one shard at a time.
Whatever order the partitions were written in, the shards are the same for the
same data and ``shard_rows``, so the batches of a re-run (after a crash) are the
same too; the ledger's fingerprints keep the upload exactly-once in any case.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.analytics import records
from fleet_assets.schema import TELEMETRY_COLUMNS
from fleet_assets.storage.parquet_partitions import Dataset, open_partition

DATASETS = ("telemetry", "edge_events", "edge_dtcs")
REQUIRED = {"telemetry": TELEMETRY_COLUMNS, "edge_events": records.EDGE_EVENT_COLUMNS,
            "edge_dtcs": records.EDGE_DTC_COLUMNS}
SPILL_BATCH_ROWS = 65_536
_IPC = pa.ipc.IpcWriteOptions(compression="lz4")


@dataclass
class PartitionData:
    """One day's (or one shard's) input tables; ``None``: the dataset has no partition for the day."""

    telemetry: pa.Table | None = None
    edge_events: pa.Table | None = None
    edge_dtcs: pa.Table | None = None


@dataclass
class DayShards:
    """The shards of one day, in a fixed order; ``len`` is known before any is read."""

    count: int
    _load: Callable[[int], PartitionData]
    present: tuple[str, ...] = ()  # datasets that have a partition for the day

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[PartitionData]:
        for shard in range(self.count):
            yield self._load(shard)

    @classmethod
    def of(cls, data: PartitionData) -> "DayShards":
        """A day already in memory: one shard."""
        return cls(1, lambda _: data, tuple(name for name in DATASETS if getattr(data, name) is not None))


def vehicle_keys(dataset: str, table: pa.Table | pa.RecordBatch) -> pa.Array:
    """The vehicle key the records of ``dataset`` are grouped by (see ``records``)."""
    if dataset == "telemetry":
        return records._vehicle_keys(table)
    return pc.fill_null(table["vin"].cast(pa.string()), "")


def shard_of(keys: pa.Array, shards: int) -> np.ndarray:
    """Shard number of every row: CRC-32 of its vehicle key modulo ``shards`` (stable across runs)."""
    keys = pc.fill_null(keys, "")
    encoded = pc.dictionary_encode(keys)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    per_key = np.array([zlib.crc32(k.encode()) % shards for k in encoded.dictionary.to_pylist()], dtype=np.int64)
    return per_key[encoded.indices.to_numpy(zero_copy_only=False)] if len(per_key) else np.zeros(0, np.int64)


@contextmanager
def stored_day(datasets: Callable[[str], Dataset], day: str, shard_rows: int,
               spill_dir: str | Path | None = None) -> Iterator[DayShards]:
    """The day's partitions (``datasets(name)`` → its dataset) as shards; spill files removed on exit.

    Raises ``AnalyticsInputError`` for a partition missing a column the records need, before anything
    is read beyond its footer (so before anything is sent).
    """
    with ExitStack() as stack:
        files = {name: stack.enter_context(open_partition(datasets(name), day)) for name in DATASETS}
        present = tuple(name for name, pf in files.items() if pf is not None)
        for name in present:
            if files[name].metadata.num_rows:
                records._require(files[name].schema_arrow.empty_table(), REQUIRED[name], name)
        total = sum(files[name].metadata.num_rows for name in present)
        count = max(1, math.ceil(total / shard_rows))
        if count == 1:
            whole = PartitionData(**{name: files[name].read() for name in present})
            yield DayShards(1, lambda _: whole, present)
            return
        tmp = Path(tempfile.mkdtemp(prefix=".analytics-shards-", dir=spill_dir))
        stack.callback(shutil.rmtree, tmp, True)
        schemas = {name: files[name].schema_arrow for name in present}
        for name in present:  # read in batches no larger than a shard: memory stays a shard's
            _spill(files[name], name, count, tmp, batch_rows=min(SPILL_BATCH_ROWS, shard_rows))

        def load(shard: int) -> PartitionData:
            return PartitionData(**{name: _read_spill(tmp / f"{name}-{shard}.arrow", schemas[name])
                                    for name in present})

        yield DayShards(count, load, present)


def _spill(pf, name: str, shards: int, tmp: Path, batch_rows: int) -> None:
    """Route every row of one partition to the spill file of its shard (one record batch in memory)."""
    writers: dict[int, pa.ipc.RecordBatchStreamWriter] = {}
    try:
        for batch in pf.iter_batches(batch_size=batch_rows):
            shard = shard_of(vehicle_keys(name, batch), shards)
            order = np.argsort(shard, kind="stable")
            ordered = batch.take(pa.array(order))
            bounds = np.searchsorted(shard[order], np.arange(shards + 1))
            for k in range(shards):
                lo, hi = bounds[k], bounds[k + 1]
                if hi > lo:
                    if k not in writers:
                        writers[k] = pa.ipc.new_stream(tmp / f"{name}-{k}.arrow", batch.schema, options=_IPC)
                    writers[k].write_batch(ordered.slice(lo, hi - lo))
    finally:
        for writer in writers.values():
            writer.close()


def _read_spill(path: Path, schema: pa.Schema) -> pa.Table:
    if not path.exists():
        return schema.empty_table()
    with pa.ipc.open_stream(path) as reader:
        return reader.read_all()
