"""normalize_samsara: golden rows (the Samsara API reference's "Get vehicle stats history" example shape) and the three joins."""

from datetime import UTC, datetime

import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.transforms import MalformedRecordsError, normalize_samsara

C3 = {
    "id": "281474980000011",
    "name": "Truck 201",
    "externalIds": {"samsara.serial": "GSYNTH00001A", "samsara.vin": "SYNTH000000000011"},
    "engineStates": [
        {"time": "2026-01-01T12:00:03.062Z", "value": "On"},
        {"time": "2026-01-01T12:20:15.500Z", "value": "Idle"},
    ],
    "gps": [
        {"time": "2026-01-01T12:00:05.100Z", "latitude": 33.1001, "longitude": -96.1001, "headingDegrees": 270,
         "speedMilesPerHour": 58.4, "isEcuSpeed": True,
         "reverseGeo": {"formattedLocation": "100 Example St, Example City, TX"},
         "address": {"id": "88000011", "name": "Depot North"}},
        {"time": "2026-01-01T12:30:10.750Z", "latitude": 33.1501, "longitude": -96.1501, "headingDegrees": 0,
         "speedMilesPerHour": 0, "isEcuSpeed": False,
         "reverseGeo": {"formattedLocation": "200 Example Ave, Example City, TX"}},
    ],
    "obdOdometerMeters": [
        {"time": "2026-01-01T12:00:07.400Z", "value": 152000345},
        {"time": "2026-01-01T12:20:09.150Z", "value": 152018892},
    ],
}


def _gps(time, lat=33.0, lon=-96.0):
    return {"time": time, "latitude": lat, "longitude": lon}


def _vehicle(vid="v1", gps=(), engine=(), odo=(), vin="VIN00000000000001", name="T1"):
    return {"id": vid, "name": name, "externalIds": {"samsara.vin": vin}, "gps": list(gps),
            "engineStates": list(engine), "obdOdometerMeters": list(odo)}


def _assignment(vid, driver, start, end=None, passenger=False, **extra):
    record = {"driver": {"id": driver, "name": f"Driver {driver}"}, "vehicle": {"id": vid}, "startTime": start,
              "isPassenger": passenger, "assignedAtTime": "", "assignmentType": "driverApp", **extra}
    if end is not None:
        record["endTime"] = end
    return record


def test_c3_golden_rows():
    rows = normalize_samsara([C3], [], "2026-01-01").to_pylist()
    assert len(rows) == 2
    assert [r["engine_state"] for r in rows] == ["On", "Idle"]
    assert rows[0]["odometer"] == pytest.approx(94448.6356, abs=1e-4)
    assert rows[1]["odometer"] == pytest.approx(94460.1602, abs=1e-4)
    assert [r["speed_mph"] for r in rows] == [58.4, 0.0]
    assert rows[0]["timestamp"] == datetime(2026, 1, 1, 12, 0, 5, 100000, tzinfo=UTC)
    assert {r["vin"] for r in rows} == {"SYNTH000000000011"}
    assert {r["fleet_number"] for r in rows} == {"Truck 201"}
    assert rows[1]["location_description"] == "200 Example Ave, Example City, TX"
    assert rows[0]["heading_degrees"] == 270.0


def test_schema_and_points_outside_day_dropped():
    v = _vehicle(gps=[_gps("2025-12-31T23:59:59.999Z"), _gps("2026-01-01T00:00:00Z"), _gps("2026-01-02T00:00:00Z")])
    table = normalize_samsara([v], [], "2026-01-01")
    assert table.schema.equals(TELEMETRY_SCHEMA)
    assert [r["timestamp"].isoformat() for r in table.to_pylist()] == ["2026-01-01T00:00:00+00:00"]


def test_engine_state_from_previous_day_applies_to_first_point():
    v = _vehicle(gps=[_gps("2026-01-01T00:05:00Z"), _gps("2026-01-01T08:00:00Z")],
                 engine=[{"time": "2025-12-31T22:00:00Z", "value": "on"}, {"time": "2026-01-01T07:00:00Z", "value": "OFF"}])
    assert [r["engine_state"] for r in normalize_samsara([v], [], "2026-01-01").to_pylist()] == ["On", "Off"]


def test_engine_state_before_any_reading_is_null_and_vehicles_do_not_mix():
    a = _vehicle("a", gps=[_gps("2026-01-01T01:00:00Z")], engine=[{"time": "2026-01-01T02:00:00Z", "value": "On"}])
    b = _vehicle("b", vin="VIN00000000000002", engine=[{"time": "2026-01-01T00:00:00Z", "value": "Idle"}],
                 gps=[_gps("2026-01-01T01:00:00Z")])
    rows = {r["provider_vehicle_id"]: r for r in normalize_samsara([a, b], [], "2026-01-01").to_pylist()}
    assert rows["a"]["engine_state"] is None
    assert rows["b"]["engine_state"] == "Idle"


def test_odometer_tolerance_edges_and_tie_prefers_earlier():
    v = _vehicle(
        gps=[_gps("2026-01-01T10:00:00Z"), _gps("2026-01-01T12:00:00Z"), _gps("2026-01-01T14:00:00Z")],
        odo=[
            {"time": "2026-01-01T09:30:00Z", "value": 1609.344},  # exactly 1800 s before point 1 -> used
            {"time": "2026-01-01T11:29:59Z", "value": 999},  # 1801 s before point 2 -> too far
            {"time": "2026-01-01T13:50:00Z", "value": 3218.688},  # 600 s before point 3 (tie) -> wins
            {"time": "2026-01-01T14:10:00Z", "value": 0},  # 600 s after point 3
        ],
    )
    assert [r["odometer"] for r in normalize_samsara([v], [], "2026-01-01").to_pylist()] == [1.0, None, 2.0]


def test_driver_interval_join_passenger_open_end_and_overlap():
    v = _vehicle(gps=[_gps(f"2026-01-01T{h:02d}:00:00Z") for h in (1, 3, 5, 7, 9, 23)])
    assignments = [
        _assignment("v1", "10", "2026-01-01T00:00:00Z", "2026-01-01T04:00:00Z"),
        _assignment("v1", "99", "2026-01-01T00:00:00Z", "2026-01-01T12:00:00Z", passenger=True),
        # Long assignment with a short overlapping one inside: latest start wins while it lasts.
        _assignment("v1", "20", "2026-01-01T04:00:00Z", "2026-01-01T10:00:00Z"),
        _assignment("v1", "30", "2026-01-01T06:30:00Z", "2026-01-01T07:30:00Z"),
        _assignment("v1", "40", "2026-01-01T22:00:00Z", None),  # open-ended: still assigned
        _assignment("other", "50", "2026-01-01T00:00:00Z", None),
    ]
    rows = normalize_samsara([v], assignments, "2026-01-01").to_pylist()
    assert [r["driver_id"] for r in rows] == ["10", "10", "20", "30", "20", "40"]
    assert rows[0]["driver_name"] == "Driver 10"


def test_empty_end_time_means_still_assigned_and_gap_is_null():
    v = _vehicle(gps=[_gps("2026-01-01T01:00:00Z"), _gps("2026-01-01T05:00:00Z")])
    assignments = [_assignment("v1", "7", "2026-01-01T04:00:00Z", "")]
    assert [r["driver_id"] for r in normalize_samsara([v], assignments, "2026-01-01").to_pylist()] == [None, "7"]


def test_blank_strings_become_null_and_missing_vin():
    v = _vehicle(vin="  ", name="", gps=[{**_gps("2026-01-01T01:00:00Z"), "reverseGeo": {"formattedLocation": " "}}])
    row = normalize_samsara([v], [], "2026-01-01").to_pylist()[0]
    assert row["vin"] is None and row["fleet_number"] is None and row["location_description"] is None


@pytest.mark.parametrize(
    "record, message",
    [
        (_vehicle(gps=[{"time": "2026-01-01T01:00:00Z", "latitude": 1.0}]), "has no gps.longitude"),
        (_vehicle(gps=[_gps("yesterday-ish")]), "unparseable samsara gps timestamp"),
        (_vehicle(gps=[{"time": "2026-01-01T01:00:00Z", "latitude": "north", "longitude": 1}]), "malformed samsara stats history"),
    ],
)
def test_malformed_records_raise_clear_errors(record, message):
    with pytest.raises(MalformedRecordsError, match=message):
        normalize_samsara([record], [], "2026-01-01")


def test_truncated_ndjson_bytes_raise():
    with pytest.raises(MalformedRecordsError, match="malformed samsara stats history records"):
        normalize_samsara(b'{"id": "v1", "gps": [{"time": "2026-01-01T01:00:00Z"\n', b"", "2026-01-01")
