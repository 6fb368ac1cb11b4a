"""The sandbox on its own: determinism, wire shapes, fault switches, bad requests, CLI."""

import email.utils
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime

import httpx
import pytest

from fleet_assets.sandbox import FAULT_KINDS, FaultConfig, SandboxBackend, SandboxConfig, ProviderSandboxTransport
from fleet_assets.sandbox.faults import choose_fault
from fleet_assets.sandbox.fleet import SHARED_VIN, track_for

DAY = {"startTime": "2026-03-02T00:00:00Z", "endTime": "2026-03-03T00:00:00Z"}
STATS = {**DAY, "types": "engineStates,gps,obdOdometerMeters"}
LOCS = {"start_date": "2026-03-02", "end_date": "2026-03-02"}


def call(backend: SandboxBackend, path: str, query: dict | None = None, auth: bool = True):
    c = backend.config
    headers = {}
    if auth:
        headers = {"X-API-Key": c.motive_api_key} if path.startswith("/v") else {
            "Authorization": f"Bearer {c.samsara_api_token}"}
    return backend.handle("GET", path, query or {}, headers)


def body(response) -> dict:
    return json.loads(response.body)


def test_generation_is_deterministic_per_seed():
    a, b = SandboxBackend(SandboxConfig(seed=3)), SandboxBackend(SandboxConfig(seed=3))
    other = SandboxBackend(SandboxConfig(seed=4))
    for path, q in (("/v1/vehicles", {}), ("/v3/vehicle_locations/8000002", LOCS),
                    ("/fleet/vehicles/stats/history", STATS), ("/fleet/driver-vehicle-assignments",
                                                               {**DAY, "filterBy": "vehicles"})):
        assert call(a, path, q).body == call(b, path, q).body
        assert call(a, path, q).body != call(other, path, q).body


def test_motive_wire_shapes_units_and_quirks():
    backend = SandboxBackend(SandboxConfig(motive_vehicles=12))
    page = body(call(backend, "/v1/vehicles", {"per_page": "5", "page_no": "2"}))
    assert page["pagination"] == {"per_page": 5, "page_no": 2, "total": 12}
    assert [list(item) for item in page["vehicles"]] == [["vehicle"]] * 5  # double-wrapped
    vehicles = [item["vehicle"] for item in body(call(backend, "/v1/vehicles", {"per_page": "100"}))["vehicles"]]
    assert vehicles[0]["vin"] == SHARED_VIN and vehicles[7]["vin"] is None
    assert [v["metric_units"] for v in vehicles[:3]] == [False, False, True]
    assert body(call(backend, "/v1/vehicles", {"per_page": "100", "page_no": "9"}))["vehicles"] == []
    locs = body(call(backend, "/v3/vehicle_locations/8000003", LOCS))
    assert list(locs) == ["vehicle_locations"]  # unpaginated
    points = [x["vehicle_location"] for x in locs["vehicle_locations"]]
    v = backend.motive[2]
    truth = track_for(7, v, date(2026, 3, 2), 60, date(2025, 1, 1)).points
    # No X-Metric-Units header: the company setting (imperial by default), whatever the vehicle flag says.
    assert [p["speed"] for p in points] == [round(t.speed_mph, 1) for t in truth]
    assert {p["type"] for p in points} >= {"ignition_on", "breadcrumb", "vehicle_stopped", "ignition_off"}
    assert points[0]["driver"]["first_name"] and len(points[0]["id"]) == 36


def test_samsara_wire_shapes_and_quirks():
    backend = SandboxBackend(SandboxConfig(samsara_vehicles=24, samsara_page_size=512))
    data = body(call(backend, "/fleet/vehicles/stats/history", STATS))["data"]
    by_index = {int(r["id"]) - 281_474_980_000_001: r for r in data}
    first = next(iter(by_index.values()))
    assert first["gps"][0]["time"].endswith("Z") and len(first["gps"][0]["time"]) == 24  # milliseconds
    assert by_index[0]["externalIds"]["samsara.vin"] == SHARED_VIN
    no_vin = [r for i, r in by_index.items() if i % 10 == 7]
    no_obd = [r for i, r in by_index.items() if i % 8 == 5]
    assert no_vin and all("samsara.vin" not in r["externalIds"] for r in no_vin)
    assert no_obd and all("obdOdometerMeters" not in r for r in no_obd)  # no OBD coverage
    assert "obdOdometerMeters" in by_index[0]
    gps = [g for r in data for g in r["gps"]]
    assert 0.05 < sum("address" in g for g in gps) / len(gps) < 0.3
    assert {e["value"] for r in data for e in r["engineStates"]} == {"On", "Idle", "Off"}
    assert all(isinstance(o["value"], int) for r in data for o in r.get("obdOdometerMeters", []))
    times = [g["time"] for r in data for g in r["gps"]]
    assert min(times) >= "2026-03-02" and max(times) < "2026-03-03"


def test_bad_credentials_answer_401_with_provider_body_shapes():
    backend = SandboxBackend()
    m = call(backend, "/v1/vehicles", auth=False)
    s = call(backend, "/fleet/vehicles", auth=False)
    assert (m.status, body(m)) == (401, {"error_message": "invalid API key"})
    assert s.status == 401 and "message" in body(s)


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_each_fault_switch(kind):
    cfg = SandboxConfig(faults=FaultConfig(retry_after_s=0.40235, slow_s=0.2, timeout_s=5.0,
                                           script={"/fleet/vehicles": (kind,)}))
    backend = SandboxBackend(cfg)
    r = call(backend, "/fleet/vehicles")
    again = call(backend, "/fleet/vehicles")  # the script covers the first attempt only
    assert again.status == 200 and again.delay_s == 0 and body(again)["data"]
    if kind == "rate_limit":
        assert r.status == 429 and r.headers["Retry-After"] == "0.40235"
    elif kind == "rate_limit_date":
        when = email.utils.parsedate_to_datetime(r.headers["Retry-After"])
        assert r.status == 429 and 0 <= (when - datetime.now(UTC)).total_seconds() <= 1.5
    elif kind.startswith("http_"):
        assert r.status == int(kind[5:]) and r.headers["Content-Type"] == "text/plain"
        with pytest.raises(ValueError):
            json.loads(r.body)
    elif kind == "truncated":
        assert r.status == 200 and len(r.body) == len(again.body) // 2
        with pytest.raises(ValueError):
            json.loads(r.body)
    elif kind == "slow":
        assert r.status == 200 and r.delay_s == pytest.approx(0.2)
    elif kind == "timeout":
        assert r.status == 200 and r.delay_s == pytest.approx(5.0)
    assert backend.requests[0].fault == kind and backend.requests[1].fault is None


def test_random_faults_are_deterministic_and_bounded():
    cfg = FaultConfig(rate=0.3, max_faulty_attempts=2)
    draws = [choose_fault(cfg, 1, f"key{i}", "/p", 0) for i in range(2000)]
    assert draws == [choose_fault(cfg, 1, f"key{i}", "/p", 0) for i in range(2000)]
    assert 0.25 < sum(d is not None for d in draws) / 2000 < 0.35
    assert {d for d in draws if d} == set(cfg.kinds)
    assert all(choose_fault(cfg, 1, f"key{i}", "/p", 2) is None for i in range(500))  # past the bound: clean


def test_timeout_fault_through_the_transport_is_a_read_timeout():
    cfg = SandboxConfig(faults=FaultConfig(timeout_s=2.0, script={"/fleet/vehicles": ("timeout",)}))
    with httpx.Client(transport=ProviderSandboxTransport(cfg), base_url="http://sandbox",
                      headers={"Authorization": f"Bearer {cfg.samsara_api_token}"}, timeout=0.1) as client:
        t0 = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get("/fleet/vehicles")
        assert time.monotonic() - t0 < 1.0
        assert client.get("/fleet/vehicles").status_code == 200


def test_duplicates_and_late_arrivals():
    cfg = SandboxConfig(motive_vehicles=3, faults=FaultConfig(duplicate_rate=0.05, late_rate=0.1))
    backend = SandboxBackend(cfg)
    first = [x["vehicle_location"]["id"] for x in body(call(backend, "/v3/vehicle_locations/8000002", LOCS))[
        "vehicle_locations"]]
    second = [x["vehicle_location"]["id"] for x in body(call(backend, "/v3/vehicle_locations/8000002", LOCS))[
        "vehicle_locations"]]
    assert len(first) > len(set(first))  # duplicated records
    assert set(first) < set(second)  # late records only show up when the window is fetched again
    truth = track_for(cfg.seed, backend.motive[1], date(2026, 3, 2), cfg.interval_s, cfg.fleet_start).points
    assert len(set(second)) == len(truth)
    stats_1 = body(call(backend, "/fleet/vehicles/stats/history", STATS))["data"]
    stats_2 = body(call(backend, "/fleet/vehicles/stats/history", STATS))["data"]
    assert sum(len(r.get("gps", [])) for r in stats_1) < sum(len(r.get("gps", [])) for r in stats_2)


def test_server_rate_limit():
    backend = SandboxBackend(SandboxConfig(rate_limit_per_s=10.0))
    statuses = [call(backend, "/v1/vehicles").status for _ in range(6)]
    assert statuses[:2] == [200, 200] and 429 in statuses
    limited = next(r for r in backend.requests if r.status == 429)
    assert limited.fault == "server_rate_limit"
    assert call(backend, "/fleet/vehicles").status == 200  # budgets are per provider


def test_bad_requests_are_rejected_clearly():
    backend = SandboxBackend()
    r = call(backend, "/v3/vehicle_locations/8000001", {"start_date": "2026-01-01", "end_date": "2026-06-01"})
    assert r.status == 400 and "must not exceed 3 months" in body(r)["error_message"]
    assert call(backend, "/v3/vehicle_locations/8000001", {}).status == 400
    assert call(backend, "/v3/vehicle_locations/99", LOCS).status == 404
    assert "up to 3 types" in body(call(backend, "/fleet/vehicles/stats/history", {**DAY, "types": "a,b,c,d"}))[
        "message"]
    assert "filterBy is required" in body(call(backend, "/fleet/driver-vehicle-assignments", DAY))["message"]
    assert "invalid cursor" in body(call(backend, "/fleet/vehicles", {"after": "%%%"}))["message"]
    assert call(backend, "/nowhere").status == 404
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultConfig(kinds=("explode",))
    with pytest.raises(ValueError, match="rate must be within"):
        FaultConfig(rate=1.5)
    with pytest.raises(ValueError, match="samsara_page_size"):
        SandboxConfig(samsara_page_size=513)


def test_cli_help_and_serve_subprocess():
    exe = os.path.join(os.path.dirname(sys.executable), "fleet-sandbox")
    out = subprocess.run([exe, "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "--latency-ms" in out.stdout and "fault kinds:" in out.stdout
    bad = subprocess.run([exe, "serve", "--faults", "explode"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "unknown fault kind" in bad.stderr
    proc = subprocess.Popen([exe, "serve", "--port", "0", "--vehicles", "3"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        url = line.split(" at ")[1].strip()
        r = httpx.get(f"{url}/v1/vehicles", headers={"X-API-Key": "sandbox-motive-key"}, timeout=10)
        assert r.status_code == 200 and r.json()["pagination"]["total"] == 3
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
