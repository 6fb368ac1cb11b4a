"""Raw provider responses per provider and day, replaced atomically, on local disk or object storage.

Layout (keys below the raw store's :class:`StoreDir`):
``<provider>/date=YYYY-MM-DD/CURRENT`` names the live version ``v-<fetch id>/``
holding gzip NDJSON files (one wire record per line; a large day's per-vehicle
files come in shards ``<name>_<k>``, see :func:`shard_file`) and ``manifest.json``
(fetch window, counts, failures). A new fetch is written into a fresh version
prefix (each object atomically), then ``CURRENT`` is replaced, last, with one
single-object write: a SIGKILL at any point leaves the previous fetch readable,
and normalisation can always be re-run without refetching. Nothing relies on
rename or on listing order: the pointer decides, and version ids sort by time,
so a writer only removes versions *older* than its own after the switch (a
reader racing a re-fetch of the *same* day can then fail and is fixed by
re-running it; partitions of different days never interact).
"""

from __future__ import annotations

import gzip
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from isal import igzip, isal_zlib

from fleet_assets.storage.objects import StoreDir, as_dir
from fleet_assets.storage.parquet_partitions import partition_dir_name

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CURRENT = "CURRENT"
MANIFEST = "manifest.json"
SUFFIX = ".ndjson.gz"


class RawDataMissingError(FileNotFoundError):
    """No raw fetch has been stored for this provider and day."""


def shard_file(name: str, shard: int, shards: int) -> str:
    """File name of shard ``shard`` of ``shards`` of a raw file (the plain name when the day is one shard)."""
    return name if shards == 1 else f"{name}_{shard:04d}"


@dataclass(frozen=True)
class RawFetch:
    """One stored fetch; files are read (one GET each) and decompressed only when asked for."""

    location: StoreDir  # the version's prefix
    names: tuple[str, ...]  # the stored files, sorted
    manifest: dict

    @property
    def path(self) -> Path | str:
        """The version directory on disk, or its URL on object storage (for UI metadata)."""
        return self.location.location()

    @property
    def shards(self) -> int:
        return int(self.manifest.get("shards", 1))  # fetches stored before sharding are one shard

    def read(self, name: str) -> bytes:
        """The decompressed NDJSON of one file (empty if the fetch has no such file)."""
        return gunzip(self.read_gz(name))

    def read_gz(self, name: str) -> bytes:
        """The stored (gzip) bytes of one file, empty if the fetch has no such file: what a worker process
        is handed (a few times smaller than the NDJSON; the store's client stays in the parent)."""
        if name not in self.names:
            return b""
        data = self.location.store.read(self.location.key(f"{name}{SUFFIX}"))
        if data is None:  # superseded and removed by a concurrent re-fetch of the same day
            raise RawDataMissingError(f"raw fetch {self.location.url} was replaced while reading; re-run")
        return data

    def shard(self, name: str, shard: int) -> bytes:
        return self.read(shard_file(name, shard, self.shards))

    def shard_gz(self, name: str, shard: int) -> bytes:
        return self.read_gz(shard_file(name, shard, self.shards))

    @property
    def files(self) -> dict[str, bytes]:
        """Every file, decompressed (small days, tools and tests; normalisation reads shard by shard)."""
        return {name: self.read(name) for name in self.names}


def gunzip(data: bytes) -> bytes:
    """``gzip.decompress(data)``, through ISA-L (same bytes; benchmarks/RESULTS.md).

    A stored file is one gzip member (``write_raw``), which ISA-L's zlib-style decompressor inflates
    ~1.5x faster than ``igzip.decompress`` (its member loop copies the output again); anything after
    the first member sends the file through ``igzip.decompress``, which reads every member.
    """
    if not data:
        return b""
    inflate = isal_zlib.decompressobj(wbits=31)
    try:
        out = inflate.decompress(data)
    except isal_zlib.error:
        out = None
    if out is None or not inflate.eof or inflate.unused_data:
        return igzip.decompress(data)  # several members, or damaged: the reference reader decides (and raises)
    return out


def raw_day(raw: StoreDir | str | Path, provider: str, day: str | date) -> StoreDir:
    """The prefix of one provider's day."""
    if not _NAME_RE.match(provider):
        raise ValueError(f"invalid provider name {provider!r}")
    return as_dir(raw).child(provider, partition_dir_name(day))


def raw_day_dir(raw: StoreDir | str | Path, provider: str, day: str | date) -> Path:
    """The local directory of a provider's day (local stores only: tools and tests that inspect files)."""
    local = raw_day(raw, provider, day).local_path
    if local is None:
        raise ValueError(f"{as_dir(raw).url} is not on local disk")
    return local


def write_raw(raw: StoreDir | str | Path, provider: str, day: str | date,
              files: dict[str, bytes] | Iterable[tuple[str, bytes]], manifest: dict) -> Path | str:
    """Store one fetch (NDJSON bytes per name) and make it the current version atomically; returns its location.

    ``files`` may be an iterable of ``(name, bytes)`` pairs, produced one shard at a time (bounded memory);
    if it raises, the version is left unpublished (``CURRENT`` unchanged).
    """
    if isinstance(files, dict):
        for name in files:  # a bad name fails before anything is stored
            _check_file_name(name)
        files = files.items()
    day_dir = raw_day(raw, provider, day)
    store = day_dir.store
    version = f"v-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    for name, data in files:
        _check_file_name(name)
        store.write(day_dir.key(version, f"{name}{SUFFIX}"), gzip.compress(data, compresslevel=6, mtime=0))
    store.write(day_dir.key(version, MANIFEST), json.dumps(manifest, indent=2, sort_keys=True, default=str).encode())
    store.write(day_dir.key(CURRENT), version.encode())  # the switch: one single-object write, last
    for stale in store.children(day_dir.prefix):
        if stale.startswith("v-") and stale < version:
            store.delete_prefix(day_dir.key(stale))
    return day_dir.child(version).location()


def _check_file_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid raw file name {name!r}")


def read_raw(raw: StoreDir | str | Path, provider: str, day: str | date) -> RawFetch:
    """The current fetch of ``provider`` for ``day``."""
    day_dir = raw_day(raw, provider, day)
    store = day_dir.store
    pointer = store.read(day_dir.key(CURRENT))
    if pointer is None:
        raise RawDataMissingError(
            f"no raw {provider} fetch stored for {day_dir.name} (materialize raw_{provider} first)")
    version = day_dir.child(pointer.decode().strip())
    manifest = store.read(version.key(MANIFEST))
    if manifest is None:  # superseded and removed by a concurrent re-fetch of the same day
        raise RawDataMissingError(f"raw {provider} fetch for {day_dir.name} was replaced while reading; re-run")
    names = sorted(key.rsplit("/", 1)[-1].removesuffix(SUFFIX) for key in store.list(version.prefix) if key.endswith(SUFFIX))
    return RawFetch(location=version, names=tuple(names), manifest=json.loads(manifest))
