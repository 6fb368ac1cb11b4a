"""Data checks of the edge datasets: pure functions of a table, reused as asset checks.

Each returns ``(passed, metadata)``. The assets evaluate them before writing
and refuse to write a failing partition (a blocking Dagster check cannot undo
a write), then report the results as asset-check evaluations.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.compute as pc

CheckResult = tuple[bool, dict]


def no_duplicate_keys(table: pa.Table, keys: tuple[str, ...] = ("trip_id", "seq")) -> CheckResult:
    if table.num_rows == 0:
        return True, {"duplicates": 0}
    unique = table.group_by(list(keys)).aggregate([]).num_rows
    return unique == table.num_rows, {"duplicates": table.num_rows - unique}


def lat_lon_in_range(table: pa.Table, lat: str = "lat", lon: str = "lon") -> CheckResult:
    bad_lat = pc.sum(pc.or_(pc.less(table[lat], -90), pc.greater(table[lat], 90))).as_py() or 0
    bad_lon = pc.sum(pc.or_(pc.less(table[lon], -180), pc.greater(table[lon], 180))).as_py() or 0
    return bad_lat + bad_lon == 0, {"bad_lat": bad_lat, "bad_lon": bad_lon}


def ts_within_day(table: pa.Table, day: str, column: str = "ts") -> CheckResult:
    if table.num_rows == 0:
        return True, {"outside_day": 0}
    start = pa.scalar(_midnight(day), type=table.schema.field(column).type)
    end = pa.scalar(_midnight(day) + timedelta(days=1), type=table.schema.field(column).type)
    outside = pc.sum(pc.or_(pc.less(table[column], start), pc.greater_equal(table[column], end))).as_py() or 0
    return outside == 0, {"outside_day": outside}


def _midnight(day: str):
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=timezone.utc)


# check name -> function(table, day) per dataset
DATASET_CHECKS = {
    "edge_events": {
        "no_duplicate_trip_seq": lambda t, day: no_duplicate_keys(t),
        "lat_lon_in_range": lambda t, day: lat_lon_in_range(t),
        "ts_within_day": lambda t, day: ts_within_day(t, day),
    },
    "edge_dtcs": {
        "no_duplicate_trip_seq": lambda t, day: no_duplicate_keys(t),
        "ts_within_day": lambda t, day: ts_within_day(t, day),
    },
    "trip_summaries": {
        "one_row_per_trip": lambda t, day: no_duplicate_keys(t, ("trip_id",)),
        "started_within_day": lambda t, day: ts_within_day(t, day, "started_at"),
    },
    "normalized_edge": {
        "lat_lon_in_range": lambda t, day: lat_lon_in_range(t, "latitude", "longitude"),
        "ts_within_day": lambda t, day: ts_within_day(t, day, "timestamp"),
    },
}
