"""Issue 12 item 4: a record that fails validation is quarantined (kept raw, with the reason); the
page and the rest of the fetch go through. Real HTTP against the loopback sandbox's malformed case."""

import json

from fleet_assets.providers import MotiveClient, SamsaraClient
from fleet_assets.sandbox import SandboxConfig, serve_in_thread

from .conftest import DAY_END, DAY_START, FAST

CFG = SandboxConfig(motive_vehicles=9, samsara_vehicles=9, interval_s=600, samsara_page_size=4, malformed_records=True)


def test_samsara_bad_record_is_quarantined_and_the_day_goes_through():
    with serve_in_thread(CFG) as url:
        client = SamsaraClient.from_token(CFG.samsara_api_token, url, **FAST)
        stats = client.fetch_stats_history(DAY_START, DAY_END)
        quarantined = client.take_quarantined()
    by_id = {r["id"]: r for r in stats}
    bad = [q for q in quarantined]
    # Vehicles 1 and 8 (index % 7 == 1) carry an object inside externalIds: not a JSON scalar.
    assert {q["record"]["id"] for q in bad} == {"281474980000002", "281474980000009"}
    assert all(q["provider"] == "samsara" and q["endpoint"] == "vehicle_stats_history" for q in bad)
    assert all("externalIds" in q["error"] and q["where"].startswith("page ") for q in bad)
    assert isinstance(bad[0]["record"]["externalIds"]["fleet.tags"], dict)  # the raw record, untouched
    assert "281474980000002" not in by_id and len(by_id) >= 6  # every other vehicle of those pages is kept
    # Vehicle 4 (index % 7 == 4) has numeric / boolean externalIds: any JSON scalar is accepted, as a string.
    assert by_id["281474980000005"]["externalIds"]["maintenanceId"] == "250020"
    assert by_id["281474980000005"]["externalIds"]["leased"] == "true"
    assert client.take_quarantined() == []  # taken once


def test_motive_bad_location_is_quarantined_and_the_vehicle_still_lands():
    with serve_in_thread(CFG) as url:
        client = MotiveClient.from_key(CFG.motive_api_key, url, **FAST)
        result = client.fetch_vehicle_locations(DAY_START, DAY_END)
        quarantined = client.take_quarantined()
    assert result.failed_vehicle_ids == []
    assert {q["where"] for q in quarantined} == {"vehicle 8000002", "vehicle 8000009"}
    assert all(q["record"]["lat"] == "north" and "lat" in q["error"] for q in quarantined)
    assert len(result.locations["8000002"]) > 10  # the vehicle's other breadcrumbs went through
    assert json.dumps(quarantined)  # plain JSON, ready for the raw store
