"""Raw provider records <-> Arrow, through newline-delimited JSON.

Raw fetches are stored as gzip NDJSON (one wire record per line), so
re-normalising a day parses them with a multi-threaded C++ JSON reader
instead of a per-record Python loop. In-memory ``list[dict]`` inputs take the
same path, which keeps one parser (and one set of error messages) for both.
Explicit schemas pin the types we rely on; fields we do not use are ignored,
so a provider adding fields cannot break parsing.

Two readers, one result (issue 14, measured in benchmarks/RESULTS.md): inputs of
``FAST_MIN_BYTES`` or more go through DuckDB's ``read_json`` (yyjson; about half the
CPU of Arrow's reader on the same bytes, already a dependency), everything else and
every input DuckDB refuses or reads differently goes through Arrow's reader, whose
table and error messages are the reference. DuckDB's table is used only when it has
one row per line (it drops scalar lines silently), so rows are never lost; it is
cast onto ``schema`` (same types, Arrow's field names). Not identical on one kind of
bad input: where Arrow's reader refuses a value of the wrong JSON type that DuckDB can
cast (a number or boolean in a string field becomes its text, a numeric string in a
float field a float, 1 or "true" in a boolean field true), DuckDB's table has the cast
value. Integers are held to Arrow's rule (see ``_DUCKDB_SCALARS``).
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pajson

from fleet_assets.transforms.errors import MalformedRecordsError

_BLOCK_SIZE = 16 << 20  # one wire record must fit in a block; Samsara records hold a day of readings
FAST_MIN_BYTES = 1 << 20  # below this DuckDB's per-query cost (~5-10 ms) outweighs its faster parse

_TS = pa.string()  # parsed later with offsets (Motive can answer +09:00)

_MOTIVE_DRIVER = pa.struct([("id", pa.int64()), ("first_name", pa.string()), ("last_name", pa.string())])

MOTIVE_VEHICLE_SCHEMA = pa.schema(
    [("id", pa.int64()), ("number", pa.string()), ("vin", pa.string()), ("metric_units", pa.bool_())]
)

MOTIVE_LOCATION_SCHEMA = pa.schema(
    [
        ("vehicle_id", pa.string()),
        (
            "vehicle_location",
            pa.struct(
                [
                    ("located_at", _TS),
                    ("lat", pa.float64()),
                    ("lon", pa.float64()),
                    ("type", pa.string()),
                    ("description", pa.string()),
                    ("speed", pa.float64()),
                    ("bearing", pa.float64()),
                    ("odometer", pa.float64()),
                    ("true_odometer", pa.float64()),
                    ("driver", _MOTIVE_DRIVER),
                ]
            ),
        ),
    ]
)

_TIMED = lambda value_type: pa.list_(pa.struct([("time", _TS), ("value", value_type)]))  # noqa: E731

SAMSARA_STATS_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("name", pa.string()),
        ("externalIds", pa.struct([("samsara.vin", pa.string())])),
        ("engineStates", _TIMED(pa.string())),
        ("obdOdometerMeters", _TIMED(pa.float64())),
        (
            "gps",
            pa.list_(
                pa.struct(
                    [
                        ("time", _TS),
                        ("latitude", pa.float64()),
                        ("longitude", pa.float64()),
                        ("headingDegrees", pa.float64()),
                        ("speedMilesPerHour", pa.float64()),
                        ("reverseGeo", pa.struct([("formattedLocation", pa.string())])),
                    ]
                )
            ),
        ),
    ]
)

SAMSARA_ASSIGNMENT_SCHEMA = pa.schema(
    [
        ("driver", pa.struct([("id", pa.string()), ("name", pa.string())])),
        ("vehicle", pa.struct([("id", pa.string())])),
        ("startTime", _TS),
        ("endTime", _TS),
        ("isPassenger", pa.bool_()),
    ]
)


def records_to_ndjson(records: Iterable[dict]) -> bytes:
    """Encode wire dicts as NDJSON (deterministic: sorted keys, compact)."""
    out = io.StringIO()
    for record in records:
        if not isinstance(record, dict):
            raise MalformedRecordsError(f"expected a JSON object per record, got {type(record).__name__}")
        out.write(json.dumps(record, separators=(",", ":"), sort_keys=True, ensure_ascii=False))
        out.write("\n")
    return out.getvalue().encode("utf-8")


def ndjson_to_table(data: bytes, schema: pa.Schema, what: str) -> pa.Table:
    """Parse NDJSON ``data`` onto ``schema``; raise ``MalformedRecordsError`` naming ``what``."""
    if not data or data.isspace():
        return schema.empty_table()
    if len(data) >= FAST_MIN_BYTES:
        table = duckdb_ndjson_table(data, schema)
        if table is not None:
            return table
    return arrow_ndjson_table(data, schema, what)


def arrow_ndjson_table(data: bytes, schema: pa.Schema, what: str) -> pa.Table:
    """Arrow's reader: the reference table and error messages."""
    line = _null_line(data)
    if line:  # pyarrow 26 crashes (SIGSEGV) when a block starts with a top-level null
        raise MalformedRecordsError(f"malformed {what} records: line {line} is null, expected a JSON object")
    try:
        return pajson.read_json(
            io.BytesIO(data),
            read_options=pajson.ReadOptions(block_size=_BLOCK_SIZE, use_threads=True),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except pa.ArrowInvalid as exc:
        raise MalformedRecordsError(f"malformed {what} records: {exc}") from exc


_NULL_FIRST = re.compile(rb"[ \t\r\n]*null[ \t\r]*(?:\n|$)")  # matched at the start only
_NULL_LATER = re.compile(rb"\n[ \t\r]*null[ \t\r]*(?:\n|$)")  # a literal first byte: ~0.35 s/GB, not a scan per byte


def _null_line(data: bytes) -> int | None:
    """The 1-based number of the first line holding only ``null``, if any."""
    found = _NULL_FIRST.match(data) or _NULL_LATER.search(data)
    return data.count(b"\n", 0, data.index(b"null", found.start())) + 1 if found else None

_duckdb_local = threading.local()


def duckdb_ndjson_table(data: bytes, schema: pa.Schema) -> pa.Table | None:
    """DuckDB's reader, or None when it refuses ``data`` or might read it differently from Arrow."""
    import duckdb  # here, not at module import: only large inputs need it

    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    try:
        table = _duckdb().read_json(
            _duckdb_source(data), format="newline_delimited", columns={f.name: _duckdb_type(f.type) for f in schema},
            maximum_object_size=_BLOCK_SIZE, hive_partitioning=False,
        ).to_arrow_table()
    except duckdb.Error:
        return None  # Arrow gives the reference error (or, if it reads it, the reference table)
    if table.num_rows != lines:  # blank or non-object lines: let Arrow decide
        return None
    all_null = functools.reduce(pc.and_, [pc.is_null(table[name]) for name in schema.names])
    if pc.any(all_null).as_py() and _null_line(data):
        return None  # a top-level null line (DuckDB reads it as a row of nulls): Arrow's path rejects it
    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _duckdb():
    """One in-memory DuckDB connection per thread and process (a connection is not shared across threads or forks)."""
    import duckdb

    pid, con = getattr(_duckdb_local, "con", (None, None))
    if pid != os.getpid():
        # Arrow's thread count (1 in a shard worker process); the input file is rewritten under one name, so
        # nothing may be cached by path.
        con = duckdb.connect(config={"threads": pa.cpu_count(), "enable_external_file_cache": False})
        _duckdb_local.con = (os.getpid(), con)
    return con


def _duckdb_source(data: bytes) -> str | io.BytesIO:
    """What DuckDB reads ``data`` from: a file, which costs ~30% less CPU than a Python file object (measured:
    benchmarks/RESULTS.md), where ``/proc/self/fd`` exists (Linux), else a ``BytesIO``.

    One anonymous temp file per thread and process, created unlinked (nothing is ever left on disk, even
    after a crash) and overwritten in place for the next input, so its page-cache pages are reused
    rather than faulted in again; it holds the largest input so far until the process exits.
    """
    pid, fd = getattr(_duckdb_local, "file", (None, None))
    if pid != os.getpid():
        if not os.path.isdir("/proc/self/fd"):
            return io.BytesIO(data)
        fd = tempfile.TemporaryFile(prefix="fleet-ndjson-")  # unlinked at once (O_TMPFILE or unlink)
        _duckdb_local.file = (os.getpid(), fd)
    view, offset = memoryview(data), 0
    while offset < len(view):
        offset += os.pwrite(fd.fileno(), view[offset:], offset)
    os.ftruncate(fd.fileno(), len(view))
    return f"/proc/self/fd/{fd.fileno()}"


def _duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f'"{f.name}" {_duckdb_type(f.type)}' for f in t) + ")"
    if pa.types.is_list(t):
        return f"{_duckdb_type(t.value_type)}[]"
    return _DUCKDB_SCALARS[t]


# Integers are read as their JSON text and cast by Arrow, which refuses 1.5, 1.0 or 1e3 as Arrow's reader does
# (DuckDB's BIGINT would round 1.5 to 2); the cast error sends the input to Arrow's reader for its message.
_DUCKDB_SCALARS = {pa.string(): "VARCHAR", pa.float64(): "DOUBLE", pa.int64(): "VARCHAR", pa.bool_(): "BOOLEAN"}


def as_table(records: pa.Table | bytes | Iterable[dict], schema: pa.Schema, what: str) -> pa.Table:
    """Accept an Arrow table, NDJSON bytes or wire dicts; return a table on ``schema``."""
    if isinstance(records, pa.Table):
        return records
    if isinstance(records, (bytes, bytearray, memoryview)):
        return ndjson_to_table(bytes(records), schema, what)
    return ndjson_to_table(records_to_ndjson(records), schema, what)


def _unwrap(record: dict, key: str) -> dict:
    """Motive wraps list items (``{"vehicle": {...}}``); accept both shapes."""
    inner = record.get(key) if isinstance(record, dict) and len(record) == 1 else None
    return inner if isinstance(inner, dict) else record


def motive_vehicle_records(vehicles: Iterable[dict]) -> list[dict]:
    return [_unwrap(v, "vehicle") for v in vehicles]


def motive_location_records(locations: dict[str, list[dict]]) -> list[dict]:
    """Per-vehicle location lists -> one ``{"vehicle_id", "vehicle_location"}`` line per point."""
    return [
        {"vehicle_id": str(vehicle_id), "vehicle_location": _unwrap(item, "vehicle_location")}
        for vehicle_id, items in locations.items()
        for item in items
    ]
