"""Raw provider responses per provider and day, replaced atomically.

Layout: ``<raw_dir>/<provider>/date=YYYY-MM-DD/CURRENT`` names the live
version directory ``v-<fetch id>/`` holding gzip NDJSON files (one wire record
per line) and ``manifest.json`` (fetch window, counts, failures). A new fetch
is written into a fresh version directory, fsynced, then ``CURRENT`` is
switched with ``os.replace``: a SIGKILL at any point leaves the previous fetch
readable, and normalisation can always be re-run without refetching.
Superseded versions are removed after the switch (a reader racing a
re-fetch of the *same* day can then fail and is fixed by re-running it;
partitions of different days never interact).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

# Same durability rules and the same Hive day directories as the Parquet writer.
from fleet_assets.storage.parquet_partitions import fsync_path, partition_dir_name

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CURRENT = "CURRENT"
MANIFEST = "manifest.json"


class RawDataMissingError(FileNotFoundError):
    """No raw fetch has been stored for this provider and day."""


@dataclass(frozen=True)
class RawFetch:
    path: Path
    files: dict[str, bytes]  # name -> decompressed NDJSON
    manifest: dict


def raw_day_dir(raw_dir: Path, provider: str, day: str | date) -> Path:
    if not _NAME_RE.match(provider):
        raise ValueError(f"invalid provider name {provider!r}")
    return Path(raw_dir) / provider / partition_dir_name(day)


def write_raw(raw_dir: Path, provider: str, day: str | date, files: dict[str, bytes], manifest: dict) -> Path:
    """Store one fetch (NDJSON bytes per name) and make it the current version atomically."""
    day_dir = raw_day_dir(raw_dir, provider, day)
    day_dir.mkdir(parents=True, exist_ok=True)
    version = f"v-{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    staging = day_dir / f".{version}.tmp"
    staging.mkdir()
    try:
        for name, data in files.items():
            if not _NAME_RE.match(name):
                raise ValueError(f"invalid raw file name {name!r}")
            _write_synced(staging / f"{name}.ndjson.gz", gzip.compress(data, compresslevel=6, mtime=0))
        _write_synced(staging / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True, default=str).encode())
        os.replace(staging, day_dir / version)
        pointer_tmp = day_dir / f".{CURRENT}.{uuid.uuid4().hex}.tmp"
        _write_synced(pointer_tmp, version.encode())
        os.replace(pointer_tmp, day_dir / CURRENT)
        fsync_path(day_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    _remove_stale_versions(day_dir, keep=version)
    return day_dir / version


def read_raw(raw_dir: Path, provider: str, day: str | date) -> RawFetch:
    """The current fetch of ``provider`` for ``day``."""
    day_dir = raw_day_dir(raw_dir, provider, day)
    pointer = day_dir / CURRENT
    if not pointer.exists():
        raise RawDataMissingError(f"no raw {provider} fetch stored for {day_dir.name} (materialize raw_{provider} first)")
    version_dir = day_dir / pointer.read_text().strip()
    files = {
        path.name.removesuffix(".ndjson.gz"): gzip.decompress(path.read_bytes())
        for path in sorted(version_dir.glob("*.ndjson.gz"))
    }
    manifest = json.loads((version_dir / MANIFEST).read_text())
    return RawFetch(path=version_dir, files=files, manifest=manifest)


def _remove_stale_versions(day_dir: Path, keep: str) -> None:
    for child in day_dir.iterdir():
        if child.is_dir() and child.name != keep and child.name.startswith("v-"):
            shutil.rmtree(child, ignore_errors=True)


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())

