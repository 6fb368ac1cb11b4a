"""Samsara stats-history + driver assignments -> unified telemetry rows (pure, vectorised).

Joins (field meanings per the Samsara API reference, developers.samsara.com, "Get vehicle stats
history" and "Get driver-vehicle assignments"; fixed where Fleet Telemetry Hub was wrong):
* engine_state: as-of join, the last ``engineStates`` entry with time <= the
  GPS time. Callers pass states fetched from a window starting before the day
  (the fetch asset asks for one extra day) so the first points of the day get
  a state instead of null.
* odometer: the nearest ``obdOdometerMeters`` reading within +-1800 s, before
  or after (ties -> earlier), meters / 1609.344 -> miles.
* driver: the covering non-passenger assignment, half-open [start, end); a
  missing/empty ``endTime`` means still assigned; overlapping assignments ->
  the latest start wins (a hand-over belongs to the new driver).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.schema import METERS_PER_MILE, TELEMETRY_SCHEMA
from fleet_assets.days import day_bounds, in_day
from fleet_assets.transforms.common import blank_to_null, filter_rows, parse_utc, require_not_null
from fleet_assets.transforms.joins import asof_backward, covering, nearest
from fleet_assets.transforms.wire import SAMSARA_ASSIGNMENT_SCHEMA, SAMSARA_STATS_SCHEMA, as_table

ODOMETER_TOLERANCE_S = 1800
_OPEN_END = np.iinfo(np.int64).max
_ENGINE_CANON = {"on": "On", "off": "Off", "idle": "Idle"}


def _series(stats: pa.Table, column: str, codes: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """Flatten one per-vehicle list column; returns the items and each item's vehicle code.

    The items stay chunked like the parsed input (zero-copy): combining them
    would copy every field, including the time strings that are only parsed.
    """
    col = stats[column]
    items = pa.Table.from_struct_array(pc.list_flatten(col))
    parents = pc.list_parent_indices(col).to_numpy(zero_copy_only=False)
    return items, codes[parents]


def _micros(ts: pa.ChunkedArray) -> np.ndarray:
    return pc.cast(ts, pa.int64()).to_numpy(zero_copy_only=False)


def _canonical_engine(values: pa.ChunkedArray) -> pa.ChunkedArray:
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    keys = pa.array(list(_ENGINE_CANON))
    return pc.take(pa.array(list(_ENGINE_CANON.values())), pc.index_in(lowered, keys))


def _take_or_null(values: pa.Array | pa.ChunkedArray, idx: np.ndarray) -> pa.Array:
    mask = idx < 0
    return pc.take(values, pa.array(np.where(mask, 0, idx), mask=mask)) if len(values) else pa.nulls(len(idx), values.type)


def normalize_samsara(
    stats_records: pa.Table | bytes | Iterable[dict],
    assignments: pa.Table | bytes | Iterable[dict],
    day: str | date,
) -> pa.Table:
    """Unified rows for the GPS points inside the UTC ``day``."""
    stats = as_table(stats_records, SAMSARA_STATS_SCHEMA, "samsara stats history")
    assign = as_table(assignments, SAMSARA_ASSIGNMENT_SCHEMA, "samsara driver assignment")
    require_not_null(stats, {"id": "id"}, "samsara stats history")
    if stats.num_rows == 0:
        return TELEMETRY_SCHEMA.empty_table()

    vehicle_ids = pc.unique(stats["id"])
    codes = pc.index_in(stats["id"], vehicle_ids).to_numpy(zero_copy_only=False)
    day_start, _ = day_bounds(day)
    base = int((day_start - timedelta(days=6)).timestamp() * 1_000_000)

    gps, gps_codes = _series(stats, "gps", codes)
    require_not_null(gps, {"time": "gps.time", "latitude": "gps.latitude", "longitude": "gps.longitude"}, "samsara gps")
    gps_ts = parse_utc(gps["time"], "samsara gps")
    keep = in_day(gps_ts, day)
    gps = filter_rows(gps.append_column("ts", gps_ts), keep)
    gps_codes = gps_codes[keep.to_numpy(zero_copy_only=False)]
    first_row = np.full(len(vehicle_ids), -1, dtype=np.int64)
    first_row[codes[::-1]] = np.arange(len(codes))[::-1]  # first stats record of each vehicle
    owner = first_row[gps_codes]
    pt_t = _micros(gps["ts"])

    engine, engine_codes = _series(stats, "engineStates", codes)
    engine_valid = pc.is_valid(engine["time"]).to_numpy(zero_copy_only=False)
    engine, engine_codes = engine.filter(pa.array(engine_valid)), engine_codes[engine_valid]
    engine_idx = asof_backward(gps_codes, pt_t, engine_codes, _micros(parse_utc(engine["time"], "samsara engineStates")), base)

    odo, odo_codes = _series(stats, "obdOdometerMeters", codes)
    odo_valid = pc.and_(pc.is_valid(odo["time"]), pc.is_valid(odo["value"])).to_numpy(zero_copy_only=False)
    odo, odo_codes = odo.filter(pa.array(odo_valid)), odo_codes[odo_valid]
    odo_idx = nearest(gps_codes, pt_t, odo_codes, _micros(parse_utc(odo["time"], "samsara obdOdometerMeters")), base, ODOMETER_TOLERANCE_S * 1_000_000)

    driver_idx, drivers = _driver_lookup(assign, vehicle_ids, gps_codes, pt_t, base)

    speed = gps["speedMilesPerHour"]
    n = gps.num_rows
    out = pa.table(
        {
            "provider": pa.repeat(pa.scalar("samsara", pa.string()), n),
            "provider_vehicle_id": pc.take(stats["id"], pa.array(owner)),
            "vin": pc.take(blank_to_null(pc.struct_field(stats["externalIds"], "samsara.vin")), pa.array(owner)),
            "fleet_number": pc.take(blank_to_null(stats["name"]), pa.array(owner)),
            "timestamp": gps["ts"],
            "latitude": gps["latitude"],
            "longitude": gps["longitude"],
            "speed_mph": speed,
            "heading_degrees": gps["headingDegrees"],
            "engine_state": _take_or_null(_canonical_engine(engine["value"]), engine_idx),
            "driver_id": _take_or_null(drivers["driver_id"], driver_idx),
            "driver_name": _take_or_null(drivers["driver_name"], driver_idx),
            "location_description": blank_to_null(pc.struct_field(gps["reverseGeo"], "formattedLocation")),
            "odometer": pc.divide(_take_or_null(odo["value"], odo_idx), METERS_PER_MILE),
        }
    )
    return out.cast(TELEMETRY_SCHEMA)


def _driver_lookup(assign: pa.Table, vehicle_ids: pa.Array, pt_code, pt_t, base: int):
    """Index of the covering non-passenger assignment per point, plus the driver columns."""
    assign = assign.filter(pc.invert(pc.fill_null(assign["isPassenger"], False)))
    vehicle = pc.struct_field(assign["vehicle"], "id")
    code = pc.index_in(vehicle, vehicle_ids)
    assign = assign.filter(pc.is_valid(code))
    code = pc.drop_null(code).to_numpy(zero_copy_only=False)
    require_not_null(assign, {"startTime": "startTime"}, "samsara driver assignment")
    start = _micros(parse_utc(assign["startTime"], "samsara assignment startTime"))
    end_ts = parse_utc(blank_to_null(assign["endTime"]), "samsara assignment endTime")
    end = pc.fill_null(pc.cast(end_ts, pa.int64()), _OPEN_END).to_numpy(zero_copy_only=False)
    drivers = pa.table(
        {
            "driver_id": blank_to_null(pc.struct_field(assign["driver"], "id")),
            "driver_name": blank_to_null(pc.struct_field(assign["driver"], "name")),
        }
    )
    return covering(pt_code, pt_t, code, start, end, base), drivers

