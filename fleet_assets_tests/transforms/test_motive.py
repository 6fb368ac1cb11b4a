"""normalize_motive: units, engine-state heuristic (H5/H6 fixed), offsets, blanks."""

from datetime import UTC, datetime

import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.transforms import MalformedRecordsError, normalize_motive

# Motive API reference (developer.gomotive.com), "/v1/vehicles" and "/v3/vehicle_locations/{id}": fleetpull's scrubbed real record.
VEHICLE = {"vehicle": {"id": 8000001, "company_id": 7000001, "number": "TEST-001", "status": "active",
                       "vin": "TESTVIN0000000001", "metric_units": False, "current_driver": None}}
METRIC = {"vehicle": {"id": 8000002, "number": "TEST-002", "vin": "TESTVIN0000000002", "metric_units": True}}
BREADCRUMB = {"vehicle_location": {
    "located_at": "2026-06-01T12:00:00Z", "lat": 41.85, "lon": -87.65, "id": "11111111-1111-4111-8111-111111111111",
    "type": "breadcrumb", "description": "Anytown, ST", "speed": None, "bearing": 12.99, "battery_voltage": None,
    "odometer": 123456.78901234567, "true_odometer": 123456.78901234567, "driver": None,
    "eld_device": {"id": 1000001, "identifier": "ELDSERIAL000001", "model": "lbb-3.6ca"}}}
DRIVER = {"id": 1000002, "first_name": "Test", "last_name": "Driver", "username": "tdriver", "role": "driver"}


def _loc(located_at="2026-06-01T12:00:00Z", **fields):
    return {"located_at": located_at, "lat": 41.0, "lon": -87.0, "type": "breadcrumb", **fields}


def test_fleetpull_breadcrumb_golden_row():
    rows = normalize_motive([VEHICLE], {"8000001": [BREADCRUMB]}, "2026-06-01").to_pylist()
    assert rows == [{
        "provider": "motive", "provider_vehicle_id": "8000001", "vin": "TESTVIN0000000001", "fleet_number": "TEST-001",
        "timestamp": datetime(2026, 6, 1, 12, tzinfo=UTC), "latitude": 41.85, "longitude": -87.65, "speed_mph": None,
        "heading_degrees": 12.99, "engine_state": None,  # H6: unknown speed is not 'Off'
        "driver_id": None, "driver_name": None, "location_description": "Anytown, ST", "odometer": 123456.78901234567,
    }]


def test_metric_vehicle_speed_and_odometer_converted_prefer_true_odometer():
    loc = _loc(speed=100.0, odometer=1000.0, true_odometer=1609.344, driver=DRIVER)
    row = normalize_motive([METRIC], {"8000002": [loc]}, "2026-06-01").to_pylist()[0]
    assert row["speed_mph"] == pytest.approx(62.1371192)
    assert row["odometer"] == pytest.approx(1000.0)  # 1609.344 km
    assert row["driver_id"] == "1000002" and row["driver_name"] == "Test Driver"


def test_units_asked_for_win_over_the_vehicle_flag():
    loc = _loc(speed=100.0, true_odometer=1609.344)
    as_asked = {units: normalize_motive([METRIC, VEHICLE], {"8000002": [loc], "8000001": [loc]}, "2026-06-01",
                                        units=units).to_pylist() for units in ("imperial", "metric")}
    assert [r["speed_mph"] for r in as_asked["imperial"]] == [100.0, 100.0]  # METRIC's flag is ignored
    assert [r["speed_mph"] for r in as_asked["metric"]] == pytest.approx([62.1371192] * 2)  # VEHICLE's too
    assert [r["odometer"] for r in as_asked["metric"]] == pytest.approx([1000.0] * 2)
    with pytest.raises(ValueError, match="motive units must be 'imperial' or 'metric', got 'kph'"):
        normalize_motive([VEHICLE], {"8000001": [loc]}, "2026-06-01", units="kph")


def test_imperial_vehicle_untouched_and_odometer_fallback():
    row = normalize_motive([VEHICLE], {"8000001": [_loc(speed=55.0, odometer=42.5)]}, "2026-06-01").to_pylist()[0]
    assert row["speed_mph"] == 55.0 and row["odometer"] == 42.5


@pytest.mark.parametrize(
    "point_type, speed, expected",
    [
        ("vehicle_stopped", 50.0, "Idle"),
        ("gps_stopped", None, "Idle"),
        ("ignition_off", 50.0, "Off"),
        ("engine_stop", None, "Off"),
        ("breadcrumb", 3.5, "On"),
        ("breadcrumb", 3.0, "Idle"),
        ("vehicle_moving", None, "On"),
        ("ignition_on", None, "Idle"),
        ("breadcrumb", None, None),
        ("something_new", None, None),
    ],
)
def test_engine_state_heuristic(point_type, speed, expected):
    row = normalize_motive([VEHICLE], {"8000001": [_loc(type=point_type, speed=speed)]}, "2026-06-01").to_pylist()[0]
    assert row["engine_state"] == expected


def test_offsets_parsed_and_day_filter_uses_utc():
    locs = [
        _loc("2026-06-01T08:30:00+09:00"),  # 2026-05-31 23:30Z: previous UTC day
        _loc("2026-06-02T08:30:00+09:00"),  # 2026-06-01 23:30Z
        _loc("2026-05-31T23:30:00-01:00"),  # 2026-06-01 00:30Z
    ]
    rows = normalize_motive([VEHICLE], {"8000001": locs}, "2026-06-01").to_pylist()
    assert [r["timestamp"] for r in rows] == [datetime(2026, 6, 1, 23, 30, tzinfo=UTC), datetime(2026, 6, 1, 0, 30, tzinfo=UTC)]


def test_blank_strings_and_unknown_vehicle():
    vehicle = {"id": 5, "number": " ", "vin": "", "metric_units": None}
    loc = _loc(description="   ", driver={"id": 3, "first_name": " ", "last_name": ""})
    rows = normalize_motive([vehicle], {"5": [loc], "6": [_loc()]}, "2026-06-01")
    assert rows.schema.equals(TELEMETRY_SCHEMA)
    first, unknown = rows.to_pylist()
    assert first["vin"] is None and first["fleet_number"] is None and first["location_description"] is None
    assert first["driver_name"] is None and first["driver_id"] == "3"
    assert unknown["provider_vehicle_id"] == "6" and unknown["vin"] is None


@pytest.mark.parametrize(
    "loc, message",
    [
        ({"located_at": "2026-06-01T01:00:00Z", "lon": 1.0, "type": "breadcrumb"}, "record 0 has no lat"),
        (_loc("06/01/2026 01:00"), "unparseable motive located_at timestamp"),
        (_loc(speed="fast"), "malformed motive vehicle_location records"),
    ],
)
def test_malformed_locations_raise_clear_errors(loc, message):
    with pytest.raises(MalformedRecordsError, match=message):
        normalize_motive([VEHICLE], {"8000001": [loc]}, "2026-06-01")


def test_empty_inputs_give_empty_table():
    table = normalize_motive([], {}, "2026-06-01")
    assert table.num_rows == 0 and table.schema.equals(TELEMETRY_SCHEMA)
