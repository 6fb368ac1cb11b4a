"""Data-quality rules shared by the pre-write validation and the asset checks.

Blocking asset checks stop downstream steps but do not undo a write, so every
rule runs twice: on the in-memory table *before* writing (a failure raises and
nothing is written) and on the written Parquet partition as an asset check
(proves what landed). Each rule returns (passed, metadata).
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.transforms.common import day_bounds, in_day
from fleet_assets.transforms.dedup import vehicle_identity

CHECK_NAMES = ("schema_matches", "no_duplicate_keys", "coordinates_in_range", "timestamps_in_partition_day")


class ValidationError(ValueError):
    """A table violates a data-quality rule; raised before anything is written."""


def check_schema(table: pa.Table) -> tuple[bool, dict]:
    ok = table.schema.equals(TELEMETRY_SCHEMA, check_metadata=False)
    return ok, {"columns": len(table.schema), "expected": str(TELEMETRY_SCHEMA.names)[:500], "actual": str(table.schema.names)[:500]}


def check_unique_keys(table: pa.Table) -> tuple[bool, dict]:
    if table.num_rows == 0:
        return True, {"duplicate_keys": 0}
    keys = pa.table({"v": vehicle_identity(table), "t": table["timestamp"]})
    distinct = keys.group_by(["v", "t"]).aggregate([]).num_rows
    dupes = table.num_rows - distinct
    return dupes == 0, {"duplicate_keys": dupes}


def check_coordinates(table: pa.Table) -> tuple[bool, dict]:
    lat, lon = table["latitude"], table["longitude"]
    bad_lat = pc.sum(pc.fill_null(pc.invert(pc.and_(pc.greater_equal(lat, -90.0), pc.less_equal(lat, 90.0))), True)).as_py() or 0
    bad_lon = pc.sum(pc.fill_null(pc.invert(pc.and_(pc.greater_equal(lon, -180.0), pc.less_equal(lon, 180.0))), True)).as_py() or 0
    return bad_lat + bad_lon == 0, {"bad_latitude": bad_lat, "bad_longitude": bad_lon}


def check_in_day(table: pa.Table, day: str | date) -> tuple[bool, dict]:
    outside = table.num_rows - (pc.sum(in_day(table["timestamp"], day)).as_py() or 0)
    start, end = day_bounds(day)
    return outside == 0, {"rows_outside_day": outside, "window": f"[{start.isoformat()}, {end.isoformat()})"}


def run_checks(table: pa.Table, day: str | date) -> dict[str, tuple[bool, dict]]:
    results = {"schema_matches": check_schema(table)}
    if not results["schema_matches"][0]:
        return results
    results["no_duplicate_keys"] = check_unique_keys(table)
    results["coordinates_in_range"] = check_coordinates(table)
    results["timestamps_in_partition_day"] = check_in_day(table, day)
    return results


def validate_or_raise(table: pa.Table, day: str | date, what: str) -> None:
    """Raise ``ValidationError`` listing every failed rule; called before writing."""
    failed = {name: meta for name, (ok, meta) in run_checks(table, day).items() if not ok}
    if failed:
        raise ValidationError(f"{what} for {day} failed validation, nothing written: {failed}")
