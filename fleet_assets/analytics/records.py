"""Pure transforms: our daily Parquet datasets → IcsAnalytics records (Arrow in, Arrow out).

Each output row is one record the backend stores under a natural key:
GPS ``(vehicle, time)``, signal ``(vehicle, signal, time)``, DTC
``(vehicle, dtc id, time)``, network stats ``(vehicle, name, upload id)``.
Rows sharing a natural key are collapsed here (the backend would upsert them
into one anyway), so "rows sent" equals "rows the backend ends up holding".
Every row carries a 64-bit ``fingerprint`` of its key *and* payload: the
ledger acknowledges fingerprints, so an unchanged record is never re-sent
and a corrected one (same key, new values) is sent again as an upsert.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets import days
from fleet_assets.schema import TELEMETRY_COLUMNS

METERS_PER_SECOND_PER_MPH = 0.44704
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # Arrow prints microseconds with %S: 2025-01-01T01:02:03.004500Z

EDGE_EVENT_COLUMNS = ("vin", "trip_id", "seq", "ts", "lat", "lon", "speed_kph", "rpm", "coolant_c",
                      "throttle_pos", "soc_pct", "fuel_level_pct", "clock_skew")
EDGE_DTC_COLUMNS = ("vin", "trip_id", "seq", "ts", "code", "description", "status")


class AnalyticsInputError(ValueError):
    """A dataset partition cannot be turned into analytics records."""


@dataclass(frozen=True)
class Pid:
    """One OBD-II PID uploaded as an IcsAnalytics signal (one message per PID)."""

    column: str
    pid: str
    name: str
    unit: str


OBD_PIDS: tuple[Pid, ...] = (
    Pid("speed_kph", "0D", "VehicleSpeed", "km/h"),
    Pid("rpm", "0C", "EngineRPM", "rpm"),
    Pid("coolant_c", "05", "EngineCoolantTemperature", "°C"),
    Pid("throttle_pos", "11", "ThrottlePosition", "%"),
    Pid("fuel_level_pct", "2F", "FuelTankLevelInput", "%"),
    Pid("soc_pct", "5B", "HybridBatteryRemainingLife", "%"),
)

GPS_SCHEMA = pa.schema([("vehicle_key", pa.string()), ("time", pa.string()), ("latitude", pa.float64()),
                        ("longitude", pa.float64()), ("speed", pa.float64()), ("bearing", pa.float64()),
                        ("fingerprint", pa.int64())])
SIGNAL_SCHEMA = pa.schema([("vehicle_key", pa.string()), ("pid", pa.string()), ("time", pa.string()),
                           ("value", pa.float64()), ("fingerprint", pa.int64())])
DTC_SCHEMA = pa.schema([("vehicle_key", pa.string()), ("time", pa.string()), ("dtc_id", pa.string()),
                        ("status", pa.string()), ("description", pa.string()), ("fingerprint", pa.int64())])
STATS_SCHEMA = pa.schema([("vehicle_key", pa.string()), ("name", pa.string()), ("upload_id", pa.int64()),
                          ("total", pa.int64()), ("matched", pa.int64()), ("unmatched", pa.int64()),
                          ("errors", pa.int64()), ("min_time", pa.string()), ("max_time", pa.string()),
                          ("rate", pa.float64()), ("fingerprint", pa.int64())])


def fingerprint(*parts: str | int | float | None) -> int:
    """Signed 64-bit digest of a record's kind, key and payload (fits DuckDB BIGINT).

    ``repr`` of str/int/float/None tuples is canonical (shortest round-trip
    floats) and ~2x cheaper than JSON; collisions among a day's ~10^6 records
    have a probability of ~10^-8.
    """
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "big", signed=True)


def fingerprints(kind: str, table: pa.Table, reprs: dict[str, pa.ChunkedArray] | None = None) -> pa.Array:
    """``fingerprint(kind, *row)`` of every row, the same values (the hot path of a day's upload).

    The ``repr`` text of each row tuple is assembled column-wise in Arrow (strings quoted, ints cast, floats
    by Python's own ``repr``), so only the hash itself runs per row: ~5x fewer Python operations. A string
    column whose ``repr`` is not simply the text in single quotes (a quote, a backslash, anything but
    printable ASCII) sends the table through the per-row ``repr``. ``reprs``: columns' ``repr`` texts the
    caller already has (``_repr_column`` of a column before it was repeated, e.g. once per PID).
    """
    texts = _repr_texts(kind, table, reprs or {})
    if texts is None:
        blake2b, from_bytes, prefix = hashlib.blake2b, int.from_bytes, (kind,)
        return pa.array([from_bytes(blake2b(repr(prefix + row).encode(), digest_size=8).digest(), "big", signed=True)
                         for row in rows(table)], pa.int64())
    blake2b = hashlib.blake2b
    digests = b"".join([blake2b(text, digest_size=8).digest() for text in texts.to_pylist()])
    return pa.array(np.frombuffer(digests, dtype=">i8").astype(np.int64), pa.int64())


_REPR_AS_QUOTED = "^[ -&(-\\[\\]-~]*$"  # printable ASCII but the quote and backslash: repr(s) == "'" + s + "'"


def _repr_column(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array | None:
    """``repr`` of each value as Arrow strings (None: not assembled column-wise, see ``fingerprints``)."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if pc.all(pc.match_substring_regex(column, _REPR_AS_QUOTED)).as_py() is False:
            return None
        quoted = pc.binary_join_element_wise("'", column.cast(pa.string()), "'", "")
    elif pa.types.is_integer(kind):
        quoted = column.cast(pa.string())
    elif pa.types.is_floating(kind):
        quoted = pa.array(list(map(repr, column.to_pylist())), pa.string())  # shortest round-trip, like repr()
    else:
        return None
    return pc.fill_null(quoted, "None")


def _repr_texts(kind: str, table: pa.Table, reprs: dict[str, pa.ChunkedArray] | None = None
                ) -> pa.ChunkedArray | pa.Array | None:
    """``repr((kind, *row)).encode()`` of every row as an Arrow binary column, or None."""
    if table.num_columns == 0:
        return None
    reprs = reprs or {}
    parts = [reprs[name] if name in reprs else _repr_column(table[name]) for name in table.column_names]
    if any(part is None for part in parts):
        return None
    texts = pc.binary_join_element_wise(f"({kind!r}", *parts, ", ")
    return pc.binary_join_element_wise(texts, ")", "").cast(pa.binary())


def rows(table: pa.Table):
    """Row tuples in column order (several times cheaper than ``to_pylist()`` dicts)."""
    return zip(*(column.to_pylist() for column in table.columns))


def _require(table: pa.Table, columns: tuple[str, ...], dataset: str) -> None:
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise AnalyticsInputError(f"{dataset} partition is missing columns {missing}; "
                                  f"expected {list(columns)}; nothing was uploaded")


def _vehicle_keys(table: pa.Table) -> pa.Array:
    """VIN when known, else ``provider:provider_vehicle_id`` (never empty)."""
    vin = pc.utf8_trim_whitespace(table["vin"].cast(pa.string()))
    fallback = pc.binary_join_element_wise(table["provider"], table["provider_vehicle_id"], ":")
    has_vin = pc.fill_null(pc.greater(pc.utf8_length(vin), 0), False)
    return pc.if_else(has_vin, vin, fallback)


def _times(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.strftime(column.cast(pa.timestamp("us", tz="UTC")), format=TIME_FORMAT)


def _finite(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """NaN/inf → null: JSON has no NaN and the schema's Float rejects it."""
    col = column.cast(pa.float64())
    return pc.if_else(pc.is_finite(col), col, pa.scalar(None, pa.float64()))


def _dedup(table: pa.Table, keys: list[str]) -> pa.Table:
    """First row per natural key after a deterministic sort by key then fingerprint."""
    if table.num_rows == 0:
        return table
    ordered = table.sort_by([(k, "ascending") for k in keys] + [("fingerprint", "ascending")])
    # In key order the first row of each key is the one whose key differs from the row before it
    # (a vectorised comparison; a hash group-by cost ~6x more). Nulls compare as a value of their own.
    first = np.zeros(ordered.num_rows, dtype=bool)
    first[0] = True
    for key in keys:
        column = ordered[key]
        before, after = column.slice(0, ordered.num_rows - 1), column.slice(1)
        differs = pc.fill_null(pc.not_equal(before, after), True)
        same_null = pc.and_(pc.is_null(before), pc.is_null(after))
        first[1:] |= pc.and_not(differs, same_null).to_numpy(zero_copy_only=False)
    return ordered.filter(pa.array(first))


def gps_points(telemetry: pa.Table | None) -> pa.Table:
    """One GPS point per (vehicle, timestamp) from the unified telemetry partition."""
    if telemetry is None or telemetry.num_rows == 0:
        return GPS_SCHEMA.empty_table()
    _require(telemetry, TELEMETRY_COLUMNS, "telemetry")
    valid = pc.and_(pc.is_valid(telemetry["timestamp"]),
                    pc.and_(pc.is_valid(telemetry["latitude"]), pc.is_valid(telemetry["longitude"])))
    t = telemetry.filter(valid)
    speed = pc.multiply(_finite(t["speed_mph"]), METERS_PER_SECOND_PER_MPH)
    cols = {"vehicle_key": _vehicle_keys(t), "time": _times(t["timestamp"]), "latitude": _finite(t["latitude"]),
            "longitude": _finite(t["longitude"]), "speed": speed, "bearing": _finite(t["heading_degrees"])}
    return _dedup(pa.table({**cols, "fingerprint": fingerprints("gps", pa.table(cols))}, schema=GPS_SCHEMA),
                  ["vehicle_key", "time"])


def check_inputs(telemetry: pa.Table | None, edge_events: pa.Table | None, edge_dtcs: pa.Table | None) -> None:
    """Raise ``AnalyticsInputError`` for a partition the transforms cannot read (before anything is sent)."""
    for table, columns, name in ((telemetry, TELEMETRY_COLUMNS, "telemetry"),
                                 (edge_events, EDGE_EVENT_COLUMNS, "edge_events"),
                                 (edge_dtcs, EDGE_DTC_COLUMNS, "edge_dtcs")):
        if table is not None and table.num_rows:
            _require(table, columns, name)


def _usable_events(edge_events: pa.Table) -> pa.Table:
    return edge_events.filter(pc.and_(pc.is_valid(edge_events["ts"]), pc.is_valid(edge_events["vin"])))


def pids_with_values(edge_events: pa.Table | None) -> list[str]:
    """The PIDs ``signal_points`` will emit at least one point for (cheap: no per-row work)."""
    if edge_events is None or edge_events.num_rows == 0:
        return []
    _require(edge_events, EDGE_EVENT_COLUMNS, "edge_events")
    events = _usable_events(edge_events)
    return [pid.pid for pid in OBD_PIDS if pc.any(pc.is_valid(_finite(events[pid.column]))).as_py()]


def signal_points(edge_events: pa.Table | None) -> pa.Table:
    """One point per (vehicle, PID, timestamp) with a non-null value from edge events."""
    if edge_events is None or edge_events.num_rows == 0:
        return SIGNAL_SCHEMA.empty_table()
    _require(edge_events, EDGE_EVENT_COLUMNS, "edge_events")
    events = _usable_events(edge_events)
    vins = events["vin"].cast(pa.string())
    times = _times(events["ts"])
    # The repr texts of the event columns, once per event rather than once per PID (see ``fingerprints``).
    event_reprs = {"vehicle_key": _repr_column(vins), "time": _repr_column(times)}
    event_reprs = {name: text for name, text in event_reprs.items() if text is not None}
    parts, part_reprs = [], []
    for pid in OBD_PIDS:
        values = _finite(events[pid.column])
        part = pa.table({"vehicle_key": vins, "pid": pa.array([pid.pid] * events.num_rows, pa.string()),
                         "time": times, "value": values})
        keep = pc.is_valid(part["value"])
        parts.append(part.filter(keep))
        part_reprs.append({name: text.filter(keep) for name, text in event_reprs.items()})
    table = pa.concat_tables(parts) if parts else SIGNAL_SCHEMA.empty_table()
    reprs = {name: pa.chunked_array([c for p in part_reprs for c in p[name].chunks], pa.string())
             for name in event_reprs}
    return _dedup(table.append_column("fingerprint", fingerprints("signal", table, reprs)).cast(SIGNAL_SCHEMA),
                  ["vehicle_key", "pid", "time"])


def _usable_dtcs(edge_dtcs: pa.Table) -> pa.Table:
    return edge_dtcs.filter(pc.and_(pc.is_valid(edge_dtcs["ts"]),
                                    pc.and_(pc.is_valid(edge_dtcs["vin"]), pc.is_valid(edge_dtcs["code"]))))


def has_dtc_items(edge_dtcs: pa.Table | None) -> bool:
    """Whether ``dtc_items`` will emit anything (cheap)."""
    if edge_dtcs is None or edge_dtcs.num_rows == 0:
        return False
    _require(edge_dtcs, EDGE_DTC_COLUMNS, "edge_dtcs")
    return _usable_dtcs(edge_dtcs).num_rows > 0


def dtc_items(edge_dtcs: pa.Table | None) -> pa.Table:
    """One DTC item per (vehicle, code, timestamp); null status/description → "" (schema: String!)."""
    if edge_dtcs is None or edge_dtcs.num_rows == 0:
        return DTC_SCHEMA.empty_table()
    _require(edge_dtcs, EDGE_DTC_COLUMNS, "edge_dtcs")
    d = _usable_dtcs(edge_dtcs)
    cols = {"vehicle_key": d["vin"].cast(pa.string()), "time": _times(d["ts"]),
            "dtc_id": d["code"].cast(pa.string()),
            "status": pc.fill_null(d["status"].cast(pa.string()), ""),
            "description": pc.fill_null(d["description"].cast(pa.string()), "")}
    return _dedup(pa.table({**cols, "fingerprint": fingerprints("dtc", pa.table(cols))}, schema=DTC_SCHEMA),
                  ["vehicle_key", "dtc_id", "time"])


def _span_stats(times: pa.ChunkedArray) -> tuple[str | None, str | None, float]:
    """(min ISO time, max ISO time, span seconds) of a timestamp column."""
    ts = times.cast(pa.timestamp("us", tz="UTC"))
    lo, hi = pc.min(ts).as_py(), pc.max(ts).as_py()
    if lo is None:
        return None, None, 0.0
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    return lo.strftime(fmt), hi.strftime(fmt), (hi - lo).total_seconds()


def _stats_row(vehicle_key: str, name: str, upload_id: int, total: int, matched: int, unmatched: int,
               errors: int, times: pa.ChunkedArray) -> dict:
    lo, hi, span = _span_stats(times)
    rate = round(total / span, 6) if span > 0 else float(total)
    row = {"vehicle_key": vehicle_key, "name": name, "upload_id": upload_id, "total": total,
           "matched": matched, "unmatched": unmatched, "errors": errors, "min_time": lo, "max_time": hi,
           "rate": rate}
    row["fingerprint"] = fingerprint("network_stats", *row.values())
    return row


def canonical_day(text: str) -> str:
    """``YYYY-MM-DD`` (ISO 8601, so ``YYYYMMDD`` too) → ``YYYY-MM-DD``: the one spelling that keys partitions, the
    ledger and upload ids, so one day is never two ledger keys."""
    try:
        return days.partition_key(text.strip())  # the one canonical day key (fleet_assets.days)
    except (ValueError, AttributeError):
        raise AnalyticsInputError(f"{text!r} is not a day; expected YYYY-MM-DD, e.g. 2025-11-04") from None


def upload_id_for(partition_key: str) -> int:
    """The partition's day as an Int (20250101): one network-stats upload per vehicle, source and day."""
    return int(date.fromisoformat(partition_key).strftime("%Y%m%d"))


def network_stats(partition_key: str, telemetry: pa.Table | None, edge_events: pa.Table | None,
                  edge_dtcs: pa.Table | None) -> pa.Table:
    """Per vehicle and source, the day's ingest counts, derived only from what the datasets hold.

    Telemetry, per provider: total rows; matched = rows with a VIN (attributed
    to a known vehicle); unmatched = rows without one; errors = rows whose
    position is missing or out of range. Edge (``edge_obd``): total = events +
    DTCs; errors = events whose timestamp was clock-skew corrected; matched =
    the rest; unmatched = 0 (edge records always carry their VIN).
    """
    upload_id = upload_id_for(partition_key)
    rows: list[dict] = []
    if telemetry is not None and telemetry.num_rows:
        _require(telemetry, TELEMETRY_COLUMNS, "telemetry")
        keyed = telemetry.append_column("_vehicle", _vehicle_keys(telemetry))
        bad_pos = pc.invert(pc.fill_null(pc.and_(
            pc.less_equal(pc.abs(keyed["latitude"]), 90.0), pc.less_equal(pc.abs(keyed["longitude"]), 180.0)), False))
        has_vin = pc.fill_null(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(keyed["vin"])), 0), False)
        for vehicle, provider in sorted({(r["_vehicle"], r["provider"]) for r in
                                         keyed.select(["_vehicle", "provider"]).to_pylist()}):
            mask = pc.and_(pc.equal(keyed["_vehicle"], vehicle), pc.equal(keyed["provider"], provider))
            sub = keyed.filter(mask)
            total = sub.num_rows
            matched = pc.sum(pc.cast(has_vin.filter(mask), pa.int64())).as_py() or 0
            errors = pc.sum(pc.cast(bad_pos.filter(mask), pa.int64())).as_py() or 0
            rows.append(_stats_row(vehicle, provider, upload_id, total, matched, total - matched, errors,
                                   sub["timestamp"]))
    edge_parts = []
    if edge_events is not None and edge_events.num_rows:
        _require(edge_events, EDGE_EVENT_COLUMNS, "edge_events")
        edge_parts.append(pa.table({"vin": edge_events["vin"].cast(pa.string()), "ts": edge_events["ts"],
                                    "skew": pc.fill_null(edge_events["clock_skew"], False)}))
    if edge_dtcs is not None and edge_dtcs.num_rows:
        _require(edge_dtcs, EDGE_DTC_COLUMNS, "edge_dtcs")
        edge_parts.append(pa.table({"vin": edge_dtcs["vin"].cast(pa.string()), "ts": edge_dtcs["ts"],
                                    "skew": pa.array([False] * edge_dtcs.num_rows)}))
    if edge_parts:
        edge = pa.concat_tables([p.cast(edge_parts[0].schema) for p in edge_parts])
        edge = edge.filter(pc.is_valid(edge["vin"]))
        for vehicle in sorted(set(edge["vin"].to_pylist())):
            sub = edge.filter(pc.equal(edge["vin"], vehicle))
            errors = pc.sum(pc.cast(sub["skew"], pa.int64())).as_py() or 0
            rows.append(_stats_row(vehicle, "edge_obd", upload_id, sub.num_rows, sub.num_rows - errors, 0,
                                   errors, sub["ts"]))
    return pa.Table.from_pylist(rows, schema=STATS_SCHEMA)
