"""The sandbox backend speaks IcsAnalytics' protocol, old and new, and injects faults deterministically."""

from __future__ import annotations

import json

import httpx
import pytest

from fleet_assets.analytics.operations import CREATE_CONFIGURATION, CREATE_MESSAGE, UPSERT_GPS_DATA
from fleet_assets.analytics.sandbox import AnalyticsSandbox, FaultPlan, serve_in_thread

OLD_DTC = """mutation UpsertDtcData($input: [UpsertDtcDataInput]) {
  upsertDtcData(input: $input) { configurationId messageId } }"""


def _post(backend: AnalyticsSandbox, query: str, variables=None) -> dict:
    response = backend.handle(json.dumps({"query": query, "variables": variables}).encode(), {})
    assert response.status == 200, response
    return json.loads(response.body)


def test_configuration_and_messages_are_idempotent_and_echoed():
    backend = AnalyticsSandbox()
    conf = {"deviceId": 1, "vehicleId": 2, "fleetId": 3, "organizationId": 4}
    first = _post(backend, CREATE_CONFIGURATION, {"input": conf})["data"]["createConfiguration"]
    again = _post(backend, CREATE_CONFIGURATION, {"input": conf})["data"]["createConfiguration"]
    assert first == again and isinstance(first["id"], int)
    msg = {"name": "M", "arbId": " 7E8 ", "networkName": "CAN", "ecuName": None}
    ids = [_post(backend, CREATE_MESSAGE, {"input": {"messages": [msg]}})["data"]["createMessage"][0]
           for _ in range(2)]
    assert ids[0]["id"] == ids[1]["id"] and ids[0]["arbId"] == " 7E8 "


def test_old_client_single_object_dtc_input_is_coerced_and_upserted():
    backend = AnalyticsSandbox()
    cid = _post(backend, CREATE_CONFIGURATION, {"input": {"deviceId": 1, "vehicleId": 1, "fleetId": 1,
                                                          "organizationId": 1}})["data"]["createConfiguration"]["id"]
    mid = _post(backend, CREATE_MESSAGE, {"input": {"messages": [{"name": "DTC"}]}})["data"]["createMessage"][0]["id"]
    dtc = {"configurationId": cid, "messageId": mid, "data": [
        {"dtcId": "P0300", "status": "2F", "description": "misfire", "time": "2025-07-15T01:42:15"}]}
    for _ in range(2):
        assert "errors" not in _post(backend, OLD_DTC, {"input": dtc})
    assert backend.stored_counts()["dtc"] == 1 and backend.duplicate_deliveries["dtc"] == 1


def test_unknown_configuration_is_a_bad_user_input_error():
    body = _post(AnalyticsSandbox(), UPSERT_GPS_DATA, {"input": {"configurationId": 99, "data": [{"time": "t"}]}})
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "unknown configurationId 99" in body["errors"][0]["message"]


def test_fault_plan_is_deterministic_by_seed():
    plan = FaultPlan.uniform(0.4, seed=42)
    outcomes = [plan.outcome(n) for n in range(200)]
    assert outcomes == [FaultPlan.uniform(0.4, seed=42).outcome(n) for n in range(200)]
    assert outcomes != [FaultPlan.uniform(0.4, seed=43).outcome(n) for n in range(200)]
    assert 50 <= sum(o != "ok" for o in outcomes) <= 110
    assert {o for o in outcomes} == {"ok", "http_500", "graphql_error", "timeout", "commit_then_500"}
    with pytest.raises(ValueError, match="fault rates add up to 1.50 > 1"):
        FaultPlan(http_500=0.8, timeout=0.7)


def test_loopback_server_stats_and_reset(loopback):
    backend, url = loopback()
    base = url.rsplit("/", 1)[0]
    with httpx.Client() as client:
        client.post(url, json={"query": CREATE_CONFIGURATION, "variables": {"input": {
            "deviceId": 1, "vehicleId": 1, "fleetId": 1, "organizationId": 1}}})
        assert client.get(f"{base}/stats").json()["configurations"] == 1
        client.post(f"{base}/reset")
        assert client.get(f"{base}/stats").json()["configurations"] == 0
        assert client.post(url, content=b"not json").status_code == 400


def test_file_store_is_shared_with_the_served_sandbox_and_a_reset_makes_a_new_backend(tmp_path):
    """What `make dev` does: runs write the store in-process, the served sandbox shows it (issue 12 item 1)."""
    store = str(tmp_path / "analytics_sandbox.sqlite")
    writer = AnalyticsSandbox(store_path=store)
    served = AnalyticsSandbox(store_path=store)
    try:
        cid = _post(writer, CREATE_CONFIGURATION, {"input": {"deviceId": 1, "vehicleId": 1, "fleetId": 1,
                                                             "organizationId": 1}})["data"]["createConfiguration"]["id"]
        points = [{"time": f"2025-06-01T00:00:0{i}.000000Z", "latitude": 1.0, "longitude": 2.0} for i in range(3)]
        _post(writer, UPSERT_GPS_DATA, {"input": {"configurationId": cid, "data": points}})
        assert served.backend_id == writer.backend_id
        with serve_in_thread(served) as url, httpx.Client() as client:
            base = url.rsplit("/", 1)[0]
            stats = client.get(f"{base}/stats").json()
            assert stats["stored"]["gps"] == 3 and stats["configurations"] == 1
            latest = client.get(f"{base}/records/gps", params={"limit": 2}).json()
            assert len(latest) == 2 and latest[0]["key"][0] == cid
            assert client.get(f"{base}/records/nope").status_code == 404
            # the served one knows ids the writer issued (one backend), and vice versa
            assert "errors" not in client.post(url, json={"query": UPSERT_GPS_DATA, "variables": {
                "input": {"configurationId": cid, "data": points[:1]}}}).json()
            old_id = writer.backend_id
            client.post(f"{base}/reset")
        assert writer.stored_counts()["gps"] == 0
        assert AnalyticsSandbox(store_path=store).backend_id != old_id  # a reset store is a new backend
    finally:
        writer.close()
        served.close()
