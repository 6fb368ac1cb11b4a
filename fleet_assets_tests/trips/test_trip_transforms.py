"""Pure transforms: dedupe/sort, clock-skew flags, summaries, telemetry projection, checks."""

from __future__ import annotations

from datetime import timedelta

import pyarrow as pa
import pytest
from fleet_protocol import EdgeEvent

from fleet_assets.ingest.synthetic import utc
from fleet_assets.schema import MPH_PER_KPH, TELEMETRY_SCHEMA
from fleet_assets.transforms.rules import DATASET_RULES
from fleet_assets.trips import trip_transforms
from fleet_assets.trips.edge_schemas import (
    EDGE_DTCS_SCHEMA,
    EDGE_EVENTS_SCHEMA,
    RAW_EVENT_FIELDS,
    RAW_EVENTS_SCHEMA,
    TRIPS_SCHEMA,
)

TRIP = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
VIN = "1FTFW1E50PFA00001"
T0 = utc(2025, 3, 4, 23, 59, 50)


def _events(rows):
    """rows: (seq, seconds after T0, speed_kph, lat)"""
    return pa.Table.from_pylist([
        EdgeEvent(vin=VIN, trip_id=TRIP, seq=seq, ts=T0 + timedelta(seconds=sec), lat=lat, lon=8.0,
                  speed_kph=speed, rpm=900.0 if speed is not None else None, fuel_level_pct=50 - seq * 0.1)
        .model_dump(include=set(RAW_EVENT_FIELDS)) for seq, sec, speed, lat in rows
    ], schema=RAW_EVENTS_SCHEMA)


def _trips(end_offset=30):
    return pa.Table.from_pylist([{"trip_id": TRIP, "vin": VIN, "started_at": T0, "ended_at": T0 + timedelta(seconds=end_offset)}],
                                schema=TRIPS_SCHEMA)


def test_prepare_events_dedupes_sorts_and_flags_skew():
    events = _events([(3, 2, 10.0, 49.0), (1, 0, 0.0, 49.0), (2, 1, 5.0, 49.0), (2, 1, 5.0, 49.0),
                      (4, -3600, 12.0, 49.0),   # an hour before the trip started: skewed
                      (5, 1, 12.0, 49.0)])      # runs 2 s backwards vs seq 3: skewed
    out = trip_transforms.prepare_events(events, _trips())
    assert out.schema == EDGE_EVENTS_SCHEMA
    assert out["seq"].to_pylist() == [1, 2, 3, 4, 5]
    assert out["clock_skew"].to_pylist() == [False, False, False, True, False]
    events = _events([(1, 0, 0.0, 49.0), (2, 10, 5.0, 49.0), (3, 5, 5.0, 49.0)])
    assert trip_transforms.prepare_events(events, _trips())["clock_skew"].to_pylist() == [False, False, True]


def test_events_on_day_splits_at_utc_midnight():
    prepared = trip_transforms.prepare_events(_events([(1, 0, 0.0, 49.0), (2, 9, 1.0, 49.0), (3, 10, 1.0, 49.0)]), _trips())
    assert trip_transforms.events_on_day(prepared, "2025-03-04")["seq"].to_pylist() == [1, 2]
    assert trip_transforms.events_on_day(prepared, "2025-03-05")["seq"].to_pylist() == [3]
    assert trip_transforms.events_on_day(EDGE_EVENTS_SCHEMA.empty_table(), "2025-03-05").num_rows == 0


def test_summary_distance_timing_harsh_and_dtcs():
    # 0.01 deg latitude per step ~ 1.112 km; accelerate hard then brake hard
    rows = [(1, 0, 0.0, 49.00), (2, 1, 20.0, 49.01), (3, 2, 20.0, 49.02), (4, 3, 5.0, 49.03), (5, 4, 0.0, 49.03)]
    prepared = trip_transforms.prepare_events(_events(rows), _trips())
    dtcs = pa.Table.from_pylist([{"vin": VIN, "trip_id": TRIP, "seq": 6, "ts": T0, "code": "P0301", "description": "",
                                  "status": "stored"}], schema=EDGE_DTCS_SCHEMA)
    summary = trip_transforms.summarize_trips(prepared, dtcs, _trips()).to_pylist()[0]
    assert summary["distance_km"] == pytest.approx(3 * 1.1119, rel=1e-3)
    assert summary["duration_s"] == 4.0
    assert summary["moving_s"] == 3.0 and summary["idle_s"] == 1.0  # interval speed = speed at its start
    assert summary["max_speed_kph"] == 20.0 and summary["avg_speed_kph"] == pytest.approx(9.0)
    assert summary["harsh_accel_count"] == 1  # 0 -> 20 kph in 1 s = 5.6 m/s^2
    assert summary["harsh_brake_count"] == 1  # 20 -> 5 kph in 1 s = -4.2 m/s^2 ; 5 -> 0 is -1.4 (not harsh)
    assert summary["fuel_used_pct"] == pytest.approx(0.4)
    assert summary["dtc_codes"] == ["P0301"] and summary["event_count"] == 5


def test_summary_ignores_skewed_events_and_handles_empty_trip():
    prepared = trip_transforms.prepare_events(_events([(1, 0, 0.0, 49.0), (2, 1, 300.0, 10.0), (2, 1, 1.0, 49.0)]), _trips())
    assert trip_transforms.summarize_trips(prepared, EDGE_DTCS_SCHEMA.empty_table(), _trips()).to_pylist()[0]["max_speed_kph"] == 300.0
    skewed = trip_transforms.prepare_events(_events([(1, 0, 0.0, 49.0), (2, 7200, 300.0, 10.0)]), _trips())
    row = trip_transforms.summarize_trips(skewed, EDGE_DTCS_SCHEMA.empty_table(), _trips()).to_pylist()[0]
    assert row["clock_skew_events"] == 1 and row["max_speed_kph"] == 0.0 and row["distance_km"] == 0.0
    empty = trip_transforms.summarize_trips(EDGE_EVENTS_SCHEMA.empty_table(), EDGE_DTCS_SCHEMA.empty_table(), _trips())
    assert empty.to_pylist()[0]["event_count"] == 0 and empty.to_pylist()[0]["max_speed_kph"] is None


def test_to_telemetry_units_and_engine_state():
    events = _events([(1, 0, 0.0, 49.0), (2, 1, 100.0, 49.1), (3, 2, None, None)])
    out = trip_transforms.to_telemetry(trip_transforms.prepare_events(events, _trips()))
    assert out.schema == TELEMETRY_SCHEMA and out.num_rows == 2  # no GPS fix -> not a telemetry row
    rows = out.to_pylist()
    assert rows[1]["speed_mph"] == pytest.approx(100 * MPH_PER_KPH)
    assert [r["engine_state"] for r in rows] == ["Idle", "On"]
    assert {r["provider"] for r in rows} == {"edge"} and rows[0]["provider_vehicle_id"] == VIN
    assert trip_transforms.to_telemetry(EDGE_EVENTS_SCHEMA.empty_table()).schema == TELEMETRY_SCHEMA


def test_checks_catch_bad_tables():
    rules = DATASET_RULES["edge_events"].rules
    good = trip_transforms.prepare_events(_events([(1, 0, 0.0, 49.0), (2, 1, 1.0, 49.0)]), _trips())
    assert rules["no_duplicate_trip_seq"](good, "2025-03-04")[0] and rules["ts_within_day"](good, "2025-03-04")[0]
    doubled = pa.concat_tables([good, good])
    assert rules["no_duplicate_trip_seq"](doubled, "2025-03-04") == (False, {"duplicate_keys": 2, "null_keys": 0})
    outside = rules["ts_within_day"](good, "2025-03-05")
    assert not outside.passed and outside.metadata["rows_outside_day"] == 2
    bad_lat = good.set_column(good.schema.get_field_index("lat"), "lat", pa.array([91.0, 0.0]))
    assert rules["lat_lon_in_range"](bad_lat, "2025-03-04") == (False, {"bad_lat": 1, "bad_lon": 0, "null_coordinates": 0})
