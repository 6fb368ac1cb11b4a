"""Retention: delete whole daily partitions older than a cut-off.

Works on every Parquet dataset under ``<root>/parquet`` and every provider
under ``<root>/raw``; a partition is one directory, removed with the atomic
rename-then-delete of :func:`remove_dir`, so readers never see half a day.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fleet_assets.storage.parquet_partitions import partition_day, remove_dir


@dataclass(frozen=True)
class Expired:
    area: str  # "parquet" or "raw"
    dataset: str
    day: str
    path: Path


def expired_partitions(root: Path, keep_days: int, today: date | None = None) -> list[Expired]:
    """Partitions whose day is before ``today - keep_days`` (today itself counts as kept)."""
    if keep_days < 0:
        raise ValueError(f"keep_days must be >= 0, got {keep_days}")
    today = today or datetime.now(UTC).date()
    cutoff = (today - timedelta(days=keep_days)).isoformat()
    found = []
    for area in ("parquet", "raw"):
        base = Path(root) / area
        if not base.exists():
            continue
        for dataset_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            for child in sorted(dataset_dir.iterdir()):
                day = partition_day(child.name)
                if day and child.is_dir() and day < cutoff:
                    found.append(Expired(area, dataset_dir.name, day, child))
    return found


def delete_old_partitions(
    root: Path,
    keep_days: int,
    *,
    today: date | None = None,
    dry_run: bool = False,
    progress: Callable[[Expired], None] | None = None,
) -> list[Expired]:
    """Delete (or with ``dry_run`` only list) partitions older than ``keep_days``."""
    doomed = expired_partitions(root, keep_days, today)
    for item in doomed:
        if progress:
            progress(item)
        if not dry_run:
            remove_dir(item.path)
    return doomed
