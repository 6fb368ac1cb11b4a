"""UTC calendar days: the partition key and its time window, defined once.

Every daily dataset (raw fetches, Parquet partitions, landing-zone day index)
is keyed by a UTC day ``YYYY-MM-DD`` and holds the half-open window
``[day 00:00 UTC, next day 00:00 UTC)``. Storage, transforms and checks all
take keys and windows from here, so a ``date`` object, a ``'2026-03-01'``
string and a bad key (``'2026-3-1'``) are treated the same way everywhere.
No Dagster, no I/O.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc


def partition_key(day: str | date) -> str:
    """The canonical ``YYYY-MM-DD`` key of ``day``; ``ValueError`` for anything else."""
    if isinstance(day, datetime):  # a datetime is a date subclass: its day would silently drop the time
        raise ValueError(f"expected a UTC day, got the datetime {day.isoformat()}")
    if isinstance(day, date):
        return day.isoformat()
    try:
        return date.fromisoformat(day).isoformat()
    except (TypeError, ValueError):
        raise ValueError(f"invalid day {day!r}: expected YYYY-MM-DD") from None


def day_bounds(day: str | date) -> tuple[datetime, datetime]:
    """The UTC half-open window ``[day, day+1)`` of a partition key."""
    d = date.fromisoformat(partition_key(day))
    start = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def in_day(ts: pa.Array | pa.ChunkedArray, day: str | date) -> pa.ChunkedArray | pa.Array:
    """Mask of timestamps inside the UTC day; a null timestamp is never inside (False)."""
    start, end = day_bounds(day)
    kind = ts.type if pa.types.is_timestamp(ts.type) else pa.timestamp("us", tz="UTC")
    mask = pc.and_(pc.greater_equal(ts, pa.scalar(start, kind)), pc.less(ts, pa.scalar(end, kind)))
    return pc.fill_null(mask, False)
