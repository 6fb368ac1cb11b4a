"""Issue 12 item 5: Samsara returns driver-vehicle assignments outside the vehicle trips' time ranges only
when ``assignmentType`` is specified (GET /fleet/driver-vehicle-assignments, samsara-python docstring).
Real HTTP against the loopback sandbox, which serves outside-trip (static) assignments only when asked."""

from fleet_assets.providers import SamsaraClient
from fleet_assets.providers.samsara import ASSIGNMENT_TYPES
from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.transforms import normalize_samsara

from .conftest import DAY_END, DAY_START, FAST

CFG = SandboxConfig(motive_vehicles=0, samsara_vehicles=8, interval_s=600)
STATIC_VEHICLE = "281474980000004"  # index 3: one open-ended static assignment, no per-shift ones


def test_assignment_types_are_asked_for_and_outside_trip_assignments_give_drivers():
    with serve_in_thread(CFG) as url:
        client = SamsaraClient.from_token(CFG.samsara_api_token, url, **FAST)
        stats = client.fetch_stats_history(DAY_START, DAY_END)
        rows = client.fetch_driver_assignments(DAY_START, DAY_END)
        asked = [r.query.get("assignmentType") for r in url.backend.requests if "assignments" in r.path]
    assert None in asked  # the unfiltered walk: every type within trips
    assert set(ASSIGNMENT_TYPES) <= set(asked)  # and each documented type, which includes outside-trip rows
    assert {"static", "HOS", "driverApp", "smartAssign", "voiceSignIn"} <= set(ASSIGNMENT_TYPES)
    static = [r for r in rows if r["vehicle"]["id"] == STATIC_VEHICLE]
    assert static and all(r["assignmentType"] == "static" and "endTime" not in r for r in static)
    table = normalize_samsara(stats, rows, DAY_START.date().isoformat())
    drivers = {d for v, d in zip(table["provider_vehicle_id"].to_pylist(), table["driver_id"].to_pylist())
               if v == STATIC_VEHICLE}
    assert drivers and None not in drivers  # points of the static-assigned truck now have their driver


def test_assignment_types_are_configurable():
    with serve_in_thread(CFG) as url:
        client = SamsaraClient.from_token(CFG.samsara_api_token, url, **FAST)
        client.assignment_types = ("static",)
        rows = client.fetch_driver_assignments(DAY_START, DAY_END)
        asked = {r.query.get("assignmentType") for r in url.backend.requests}
    assert asked == {None, "static"} and any(r["vehicle"]["id"] == STATIC_VEHICLE for r in rows)


def test_resource_passes_its_assignment_types_to_the_client():
    from fleet_assets.provider_ingest.resources import SamsaraResource

    assert SamsaraResource(sandbox_vehicles=1).get_client().assignment_types == ASSIGNMENT_TYPES
    assert SamsaraResource(sandbox_vehicles=1, assignment_types=["static", " HOS "]).get_client().assignment_types == (
        "static", "HOS")
