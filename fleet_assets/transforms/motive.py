"""Motive wire records -> unified telemetry rows (pure, vectorised).

Fixes relative to Fleet Telemetry Hub:
* units are converted on what the request asked for (``X-Metric-Units``,
  recorded as ``units`` in the raw manifest), because Motive answers in the
  company's unit setting, not in a vehicle's ``metric_units`` flag; odometer is
  converted km -> miles as well as speed (H5), preferring ``true_odometer``.
  Raw data fetched before the header was sent has no ``units``: only then the
  vehicle flag is the best guess left;
* a point with unknown speed and an uninformative type gets engine_state
  null (unknown) instead of 'Off' (H6);
* ``located_at`` offsets other than ``Z`` are honoured;
* empty/whitespace strings become null.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.schema import METERS_PER_MILE, MPH_PER_KPH, TELEMETRY_SCHEMA
from fleet_assets.days import in_day
from fleet_assets.transforms.common import blank_to_null, filter_rows, parse_utc, require_not_null, to_str
from fleet_assets.transforms.wire import (
    MOTIVE_LOCATION_SCHEMA,
    MOTIVE_VEHICLE_SCHEMA,
    as_table,
    motive_location_records,
    motive_vehicle_records,
)

IDLING_THRESHOLD_MPH = 3.0
_MILES_PER_KM = 1000.0 / METERS_PER_MILE
_STOPPED = ["vehicle_stopped", "gps_stopped"]
_OFF = ["ignition_off", "engine_stop"]
_MOVING = ["vehicle_moving", "vehicle_driving", "gps_moving"]
_STARTING = ["ignition_on", "engine_start"]


def motive_vehicles_table(vehicles: pa.Table | bytes | Iterable[dict]) -> pa.Table:
    if isinstance(vehicles, (pa.Table, bytes)):
        return as_table(vehicles, MOTIVE_VEHICLE_SCHEMA, "motive vehicle")
    return as_table(motive_vehicle_records(vehicles), MOTIVE_VEHICLE_SCHEMA, "motive vehicle")


def motive_locations_table(locations: pa.Table | bytes | dict[str, list[dict]]) -> pa.Table:
    if isinstance(locations, dict):
        locations = motive_location_records(locations)
    return as_table(locations, MOTIVE_LOCATION_SCHEMA, "motive vehicle_location")


def engine_state(point_type: pa.ChunkedArray, speed_mph: pa.ChunkedArray) -> pa.Array:
    """The hub's precedence, except that nothing known -> null, not 'Off'.

    Type matching runs on the few distinct values (dictionary), not per row.
    """
    types = pc.dictionary_encode(point_type).combine_chunks()

    def type_in(values: list[str]) -> pa.Array:
        return pc.take(pc.is_in(types.dictionary, pa.array(values)), types.indices)

    conditions = [
        type_in(_STOPPED),
        type_in(_OFF),
        pc.greater(speed_mph, IDLING_THRESHOLD_MPH),
        pc.less_equal(speed_mph, IDLING_THRESHOLD_MPH),
        type_in(_MOVING),
        type_in(_STARTING),
    ]
    conditions = [pc.fill_null(c, False) for c in conditions]
    names = [f"c{i}" for i in range(len(conditions))]
    cond = pc.make_struct(*conditions, field_names=names)
    return pc.case_when(cond, "Idle", "Off", "On", "Idle", "On", "Idle")


def normalize_motive(
    vehicles: pa.Table | bytes | Iterable[dict],
    locations: pa.Table | bytes | dict[str, list[dict]],
    day: str | date,
    units: str | None = None,
) -> pa.Table:
    """Unified rows for the points of ``locations`` inside the UTC ``day``.

    ``units`` is what the fetch asked Motive for ("imperial" or "metric");
    None (legacy raw data, fetched without ``X-Metric-Units``) falls back to
    each vehicle's ``metric_units`` flag.
    """
    if units not in (None, "imperial", "metric"):
        raise ValueError(f"motive units must be 'imperial' or 'metric', got {units!r}")
    veh = motive_vehicles_table(vehicles)
    loc = motive_locations_table(locations)
    point = loc["vehicle_location"]
    fields = {name: pc.struct_field(point, name) for name in MOTIVE_LOCATION_SCHEMA.field("vehicle_location").type.names}
    cols = pa.table({"vehicle_id": loc["vehicle_id"], **fields})
    require_not_null(cols, {"vehicle_id": "vehicle_id", "located_at": "located_at", "lat": "lat", "lon": "lon"}, "motive vehicle_location")
    ts = parse_utc(cols["located_at"], "motive located_at")
    keep = in_day(ts, day)
    cols = filter_rows(cols.append_column("ts", ts), keep)

    # Vehicle attributes by position lookup: order-preserving and O(n) (no join reordering).
    veh_ids = to_str(veh["id"])
    veh_pos = pc.index_in(cols["vehicle_id"], veh_ids)  # duplicate vehicle ids: the first listed wins
    if units is None:
        metric = pc.fill_null(pc.take(veh["metric_units"], veh_pos), False)
    else:
        metric = pa.repeat(pa.scalar(units == "metric"), len(veh_pos))
    number = pc.take(blank_to_null(to_str(veh["number"])), veh_pos)  # clean per vehicle, then spread
    vin = pc.take(blank_to_null(veh["vin"]), veh_pos)

    speed_factor = pc.if_else(metric, MPH_PER_KPH, 1.0)
    speed_mph = pc.multiply(cols["speed"], speed_factor)
    odometer_raw = pc.coalesce(cols["true_odometer"], cols["odometer"])
    odometer = pc.multiply(odometer_raw, pc.if_else(metric, _MILES_PER_KM, 1.0))

    driver = cols["driver"]
    first_name = blank_to_null(pc.struct_field(driver, "first_name"))
    last_name = blank_to_null(pc.struct_field(driver, "last_name"))
    full = pc.binary_join_element_wise(pc.fill_null(first_name, ""), pc.fill_null(last_name, ""), " ")
    driver_name = blank_to_null(full)
    driver_id = to_str(pc.struct_field(driver, "id"))

    n = cols.num_rows
    out = pa.table(
        {
            "provider": pa.repeat(pa.scalar("motive", pa.string()), n),
            "provider_vehicle_id": cols["vehicle_id"],
            "vin": vin,
            "fleet_number": number,
            "timestamp": cols["ts"],
            "latitude": cols["lat"],
            "longitude": cols["lon"],
            "speed_mph": speed_mph,
            "heading_degrees": cols["bearing"],
            "engine_state": engine_state(cols["type"], speed_mph),
            "driver_id": driver_id,
            "driver_name": driver_name,
            "location_description": blank_to_null(cols["description"]),
            "odometer": odometer,
        }
    )
    return out.cast(TELEMETRY_SCHEMA)
