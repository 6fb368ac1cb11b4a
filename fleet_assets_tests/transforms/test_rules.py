"""The one rule set: each rule on tables with nulls behaves as the module docstring says."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.transforms.dedup import vehicle_identity
from fleet_assets.transforms.rules import (
    DATASET_RULES,
    coordinates_in_range,
    schema_matches,
    unique_keys,
    within_day,
)

DAY = "2026-03-01"
TS = pa.timestamp("us", tz="UTC")


def _keys(trip_ids, seqs):
    return pa.table({"trip_id": pa.array(trip_ids, pa.string()), "seq": pa.array(seqs, pa.int64())})


def test_unique_keys_counts_duplicates_and_fails_rows_without_a_key():
    rule = unique_keys("trip_id", "seq")
    assert rule(_keys(["a", "a", "b"], [1, 2, 1]), DAY) == (True, {"duplicate_keys": 0, "null_keys": 0})
    assert rule(_keys(["a", "a", "b"], [1, 1, 1]), DAY) == (False, {"duplicate_keys": 1, "null_keys": 0})
    # Two rows with a null key are not duplicates of each other: each has no identity at all.
    assert rule(_keys(["a", None, None], [1, 1, 1]), DAY) == (False, {"duplicate_keys": 0, "null_keys": 2})
    assert rule(_keys(["a", "a", "a"], [1, None, 1]), DAY) == (False, {"duplicate_keys": 1, "null_keys": 1})
    assert unique_keys("trip_id")(_keys([None], [1]), DAY) == (False, {"duplicate_keys": 0, "null_keys": 1})
    assert rule(_keys([], []), DAY) == (True, {"duplicate_keys": 0, "null_keys": 0})


def test_unique_keys_with_a_derived_key_part():
    """Telemetry's key is (vehicle identity, timestamp): VIN, else provider:provider_vehicle_id."""
    t = pa.table({"provider": ["motive", "samsara", "motive"], "provider_vehicle_id": ["1", "1", "2"],
                  "vin": pa.array([None, None, "VIN1"], pa.string()),
                  "timestamp": pa.array([datetime(2026, 3, 1, tzinfo=UTC)] * 3, TS)})
    rule = unique_keys(vehicle_identity, "timestamp")
    assert rule(t, DAY).passed  # same id in two providers without a VIN: two vehicles
    doubled = pa.concat_tables([t, t.slice(2)])
    assert rule(doubled, DAY) == (False, {"duplicate_keys": 1, "null_keys": 0})


@pytest.mark.parametrize("nulls_allowed", [True, False])
def test_coordinates_out_of_range_and_nan_always_fail(nulls_allowed):
    rule = coordinates_in_range("lat", "lon", nulls_allowed=nulls_allowed)
    t = pa.table({"lat": [90.0, -90.0, 90.5, float("nan")], "lon": [180.0, -180.0, 0.0, -180.5]})
    assert rule(t, DAY) == (False, {"bad_lat": 2, "bad_lon": 1, "null_coordinates": 0})
    assert rule(t.slice(0, 2), DAY) == (True, {"bad_lat": 0, "bad_lon": 0, "null_coordinates": 0})


def test_missing_coordinates_fail_only_where_the_dataset_does_not_allow_them():
    t = pa.table({"latitude": pa.array([10.0, None, None], pa.float64()),
                  "longitude": pa.array([20.0, 20.0, None], pa.float64())})
    expected = {"bad_latitude": 0, "bad_longitude": 0, "null_coordinates": 2}
    assert coordinates_in_range("latitude", "longitude", nulls_allowed=True)(t, DAY) == (True, expected)
    assert coordinates_in_range("latitude", "longitude", nulls_allowed=False)(t, DAY) == (False, expected)
    # Per dataset: edge events may lack a GPS fix; the telemetry-schema datasets may not.
    edge = DATASET_RULES["edge_events"].rules["lat_lon_in_range"]
    assert edge(t.rename_columns(["lat", "lon"]), DAY).passed
    assert not DATASET_RULES["normalized_edge"].rules["lat_lon_in_range"](t, DAY).passed


def test_within_day_is_half_open_and_a_null_time_is_never_inside():
    rule = within_day("ts")
    inside = [datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 1, 23, 59, 59, 999999, tzinfo=UTC)]
    window = "[2026-03-01T00:00:00+00:00, 2026-03-02T00:00:00+00:00)"
    assert rule(pa.table({"ts": pa.array(inside, TS)}), DAY) == (
        True, {"rows_outside_day": 0, "null_timestamps": 0, "window": window})
    midnight_after = pa.table({"ts": pa.array([*inside, datetime(2026, 3, 2, tzinfo=UTC), None], TS)})
    assert rule(midnight_after, DAY) == (False, {"rows_outside_day": 1, "null_timestamps": 1, "window": window})
    only_null = pa.table({"ts": pa.array([None], TS)})
    assert rule(only_null, DAY) == (False, {"rows_outside_day": 0, "null_timestamps": 1, "window": window})


def test_a_failed_schema_rule_stops_the_rest():
    rules = DATASET_RULES["telemetry"]
    wrong = pa.table({"provider": ["motive"]})
    assert list(rules.evaluate(wrong, DAY)) == ["schema_matches"]
    assert schema_matches(TELEMETRY_SCHEMA)(TELEMETRY_SCHEMA.empty_table(), DAY).passed


def test_every_daily_dataset_has_rules_and_the_check_names_are_the_published_ones():
    assert set(DATASET_RULES) == {"normalized_motive", "normalized_samsara", "telemetry", "edge_events", "edge_dtcs",
                                  "trip_summaries", "normalized_edge"}
    assert DATASET_RULES["telemetry"].names == (
        "schema_matches", "no_duplicate_keys", "coordinates_in_range", "timestamps_in_partition_day")
    assert DATASET_RULES["trip_summaries"].names == ("one_row_per_trip", "started_within_day")
