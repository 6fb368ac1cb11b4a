"""Vectorised helpers shared by the provider transforms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.transforms.errors import MalformedRecordsError

UTC_US = pa.timestamp("us", tz="UTC")


def day_bounds(day: str | date) -> tuple[datetime, datetime]:
    """The UTC half-open window ``[day, day+1)`` of a partition key."""
    d = date.fromisoformat(day) if isinstance(day, str) else day
    start = datetime(d.year, d.month, d.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def parse_utc(values: pa.Array | pa.ChunkedArray, what: str) -> pa.ChunkedArray:
    """ISO-8601 strings with any offset (``Z``, ``+09:00``) -> timestamp[us, UTC]."""
    try:
        return pc.cast(values, UTC_US)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise MalformedRecordsError(f"unparseable {what} timestamp: {exc}") from exc


def blank_to_null(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Empty or whitespace-only strings become null (the hub stored '' as a value).

    Returns the input untouched (no copy) when nothing is blank, the common case.
    """
    blank = pc.or_(pc.equal(pc.utf8_length(values), 0), pc.utf8_is_space(values))
    if not pc.any(blank).as_py():
        return values
    return pc.if_else(blank, pa.scalar(None, pa.string()), values)


def in_day(ts: pa.ChunkedArray, day: str | date) -> pa.ChunkedArray:
    """Mask of timestamps inside the UTC day (nulls are False)."""
    start, end = day_bounds(day)
    mask = pc.and_(pc.greater_equal(ts, pa.scalar(start, UTC_US)), pc.less(ts, pa.scalar(end, UTC_US)))
    return pc.fill_null(mask, False)


def require_not_null(table: pa.Table, columns: dict[str, str], what: str) -> None:
    """Raise naming the first row where a required wire field is missing."""
    for column, wire_name in columns.items():
        nulls = pc.is_null(table[column])
        if pc.any(nulls).as_py():
            row = pc.index(nulls, True).as_py()
            raise MalformedRecordsError(f"{what} record {row} has no {wire_name}")


def to_str(values: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.cast(values, pa.string())


def filter_rows(table: pa.Table, mask: pa.ChunkedArray) -> pa.Table:
    """``table.filter(mask)``, skipped (no copy) when every row is kept."""
    return table if pc.all(mask).as_py() else table.filter(mask)
