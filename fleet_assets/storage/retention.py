"""Retention: delete whole daily partitions older than a cut-off.

Works on every Parquet dataset under ``parquet/`` and every provider under
``raw/`` of a store (local disk or object storage). A Parquet day disappears
atomically for readers: its one data object is deleted first
(:func:`delete_partition`); a raw day's ``CURRENT`` pointer likewise goes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fleet_assets.storage.objects import StoreDir, as_dir
from fleet_assets.storage.parquet_partitions import delete_partition, partition_day
from fleet_assets.storage.raw_store import CURRENT

AREAS = ("parquet", "raw")


@dataclass(frozen=True)
class Expired:
    area: str  # "parquet" or "raw"
    dataset: str
    day: str
    path: Path | str  # local directory, or URL on object storage


def expired_partitions(root: StoreDir | str | Path, keep_days: int, today: date | None = None) -> list[Expired]:
    """Partitions whose day is before ``today - keep_days`` (today itself counts as kept)."""
    if keep_days < 0:
        raise ValueError(f"keep_days must be >= 0, got {keep_days}")
    today = today or datetime.now(UTC).date()
    cutoff = (today - timedelta(days=keep_days)).isoformat()
    base = as_dir(root)
    found = []
    for area in AREAS:
        for dataset in base.store.children(base.key(area)):
            for child in base.store.children(base.key(area, dataset)):
                day = partition_day(child)
                if day and day < cutoff:
                    found.append(Expired(area, dataset, day, base.child(area, dataset).location(child)))
    return found


def delete_old_partitions(
    root: StoreDir | str | Path,
    keep_days: int,
    *,
    today: date | None = None,
    dry_run: bool = False,
    progress: Callable[[Expired], None] | None = None,
) -> list[Expired]:
    """Delete (or with ``dry_run`` only list) partitions older than ``keep_days``."""
    base = as_dir(root)
    doomed = expired_partitions(base, keep_days, today)
    for item in doomed:
        if progress:
            progress(item)
        if dry_run:
            continue
        dataset = base.child(item.area, item.dataset)
        if item.area == "parquet":
            delete_partition(dataset, item.day)
        else:
            day_dir = dataset.child(f"date={item.day}")
            day_dir.store.delete(day_dir.key(CURRENT))
            day_dir.store.delete_prefix(day_dir.prefix)
    return doomed
