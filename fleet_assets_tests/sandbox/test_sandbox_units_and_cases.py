"""Sandbox cases added for issue 12: Motive unit setting vs header vs vehicle flags, malformed
records for quarantine, Samsara assignments outside trips, the sandbox marker header."""

import json
from datetime import date

from fleet_assets.sandbox import SandboxBackend, SandboxConfig
from fleet_assets.sandbox.fleet import track_for

LOCS = {"start_date": "2026-03-02", "end_date": "2026-03-02"}
KPH = 1.609344


def _speeds(backend, headers):
    r = backend.handle("GET", "/v3/vehicle_locations/8000001", LOCS, {"X-API-Key": "sandbox-motive-key", **headers})
    assert r.status == 200, r.body
    return [x["vehicle_location"]["speed"] for x in json.loads(r.body)["vehicle_locations"]]


def test_motive_units_follow_header_else_company_setting_never_vehicle_flag():
    for company in ("imperial", "metric"):
        backend = SandboxBackend(SandboxConfig(motive_vehicles=3, motive_company_units=company))
        v = backend.motive[0]
        assert v.metric_units is False  # vehicle 0 is flagged imperial
        truth = [p.speed_mph for p in track_for(7, v, date(2026, 3, 2), 60, date(2025, 1, 1)).points]
        mph, kph = [round(s, 1) for s in truth], [round(s * KPH, 1) for s in truth]
        assert _speeds(backend, {"X-Metric-Units": "false"}) == mph
        assert _speeds(backend, {"X-Metric-Units": "true"}) == kph
        assert _speeds(backend, {}) == (kph if company == "metric" else mph)  # company setting, flag ignored
    bad = SandboxBackend(SandboxConfig(motive_vehicles=1)).handle(
        "GET", "/v3/vehicle_locations/8000001", LOCS, {"X-API-Key": "sandbox-motive-key", "X-Metric-Units": "yes"})
    assert bad.status == 400 and b"X-Metric-Units" in bad.body


def test_every_response_carries_the_sandbox_marker():
    backend = SandboxBackend(SandboxConfig(motive_vehicles=1))
    for path, headers in (("/v1/vehicles", {"X-API-Key": "sandbox-motive-key"}), ("/v1/vehicles", {}),
                          ("/fleet/vehicles", {"Authorization": "Bearer sandbox-samsara-token"})):
        assert backend.handle("GET", path, {}, headers).headers["X-Fleet-Sandbox"] == "true"


def _assignments(backend, **query):
    q = {"filterBy": "vehicles", "startTime": "2026-03-02T00:00:00Z", "endTime": "2026-03-03T00:00:00Z", **query}
    return backend.handle("GET", "/fleet/driver-vehicle-assignments", q, {"Authorization": "Bearer sandbox-samsara-token"})


def test_samsara_outside_trip_assignments_only_when_asked():
    backend = SandboxBackend(SandboxConfig(samsara_vehicles=8, samsara_assignment_page_size=500))
    plain = json.loads(_assignments(backend).body)["data"]
    outside = "281474980000004"  # index 3: one open-ended static assignment spanning the time outside trips
    assert plain and all(r["vehicle"]["id"] != outside for r in plain)  # trip-time rows only
    static = json.loads(_assignments(backend, assignmentType="static").body)["data"]
    assert {r["assignmentType"] for r in static} == {"static"}
    assert [r for r in static if r["vehicle"]["id"] == outside and "endTime" not in r]
    hos = json.loads(_assignments(backend, assignmentType="HOS").body)["data"]
    assert hos and {r["assignmentType"] for r in hos} == {"HOS"}
    bad = _assignments(backend, assignmentType="telepathy")
    assert bad.status == 400 and b"assignmentType" in bad.body
