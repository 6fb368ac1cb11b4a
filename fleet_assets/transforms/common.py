"""Vectorised helpers shared by the provider transforms."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.transforms.errors import MalformedRecordsError

UTC_US = pa.timestamp("us", tz="UTC")


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
