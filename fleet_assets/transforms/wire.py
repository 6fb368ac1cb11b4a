"""Raw provider records <-> Arrow, through newline-delimited JSON.

Raw fetches are stored as gzip NDJSON (one wire record per line), so
re-normalising a day parses them with Arrow's multi-threaded C++ JSON reader
instead of a per-record Python loop. In-memory ``list[dict]`` inputs take the
same path, which keeps one parser (and one set of error messages) for both.
Explicit schemas pin the types we rely on; fields we do not use are ignored,
so a provider adding fields cannot break parsing.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.json as pajson

from fleet_assets.transforms.errors import MalformedRecordsError

_BLOCK_SIZE = 16 << 20  # one wire record must fit in a block; Samsara records hold a day of readings

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
    if not data.strip():
        return schema.empty_table()
    try:
        return pajson.read_json(
            io.BytesIO(data),
            read_options=pajson.ReadOptions(block_size=_BLOCK_SIZE, use_threads=True),
            parse_options=pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
        )
    except pa.ArrowInvalid as exc:
        raise MalformedRecordsError(f"malformed {what} records: {exc}") from exc


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
