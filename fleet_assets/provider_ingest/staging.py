"""Local staging of a day's raw records while the pages arrive: the fetch holds a page, never the day.

The shard count of a day follows from its size, known only once the last page is in, so records are
spilled first and split afterwards. Each page's records are appended as NDJSON blocks to ONE temporary file
(no file per shard: no open-file limit, no per-shard buffers); an index keeps, per block, its group (the
provider vehicle id its shard is decided by), an order key and its place in the file (a few entries per
vehicle, not per record). Then each raw file is produced shard by shard: the blocks whose group falls in
shard ``k``, in order-key order, read back (:meth:`RawStaging.pieces`). Memory: the index plus one shard's
bytes; disk: the day's NDJSON once (in the system temp directory, removed on exit, also on failure).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from fleet_assets.storage.raw_store import shard_file
from fleet_assets.transforms.wire import records_to_ndjson


class Block(NamedTuple):
    key: tuple
    group: str
    offset: int
    length: int


class RawStaging:
    """Blocks of NDJSON per raw file name, spilled to a temporary file (a context manager)."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="fleet-raw-", dir=directory)
        self._file = open(Path(self._dir.name) / "records.ndjson", "w+b")  # noqa: SIM115 - closed in close()
        self._size = 0
        self._seq = 0
        self._blocks: dict[str, list[Block]] = {}

    def __enter__(self) -> RawStaging:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._file.close()
        self._dir.cleanup()

    def _append(self, name: str, group: str, data: bytes, key: tuple | None) -> None:
        self._file.write(data)
        self._blocks.setdefault(name, []).append(Block(key if key is not None else (self._seq,), group, self._size, len(data)))
        self._size += len(data)
        self._seq += 1

    def add(self, name: str, group: str, records: list[dict], key: tuple | None = None) -> None:
        """Append ``records`` as one NDJSON block of raw file ``name``; blocks come back in ``key`` order
        (default: the order they were added)."""
        if records:
            self._append(name, group, records_to_ndjson(records), key)

    def stash(self, name: str, group: str, record: dict) -> None:
        """Keep ``record`` for :meth:`groups` only (pickled: cheaper than JSON, never published)."""
        self._append(name, group, pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL), None)

    def add_runs(self, name: str, records: Iterable[dict], group_of: Callable[[dict], str]) -> None:
        """Append ``records`` in order, one block per run of consecutive records of the same group."""
        run: list[dict] = []
        group = None
        for record in records:
            g = group_of(record)
            if run and g != group:
                self.add(name, group, run)
                run = []
            group = g
            run.append(record)
        if run:
            self.add(name, group, run)

    def _read(self, block: Block) -> bytes:
        return os.pread(self._file.fileno(), block.length, block.offset)

    def groups(self, name: str) -> Iterator[tuple[str, list[dict]]]:
        """Each group's stashed records of ``name`` (groups in order of first appearance, records in order)."""
        self._file.flush()
        by_group: dict[str, list[Block]] = {}
        for block in self._blocks.get(name, []):
            by_group.setdefault(block.group, []).append(block)
        for group, blocks in by_group.items():
            yield group, [pickle.loads(self._read(b)) for b in blocks]

    def pieces(self, name: str, shard_of: Callable[[str], int], shards: int) -> Iterator[tuple[str, bytes]]:
        """``(file name, NDJSON)`` of each shard of ``name`` (every shard, empty ones too), one at a time."""
        self._file.flush()
        per_shard: list[list[Block]] = [[] for _ in range(shards)]
        for block in self._blocks.get(name, []):
            per_shard[shard_of(block.group)].append(block)
        for k, blocks in enumerate(per_shard):
            blocks.sort(key=lambda b: b.key)
            yield shard_file(name, k, shards), b"".join(self._read(b) for b in blocks)
            per_shard[k] = []
