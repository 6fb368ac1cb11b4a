"""Pagination (Motive page numbers, Samsara cursors) and window filtering, checked
against the simulated fleet's ground truth."""

import json
from datetime import date

from .conftest import DAY_END, DAY_START

from fleet_assets.providers.models import parse_instant
from fleet_assets.sandbox.fleet import track_for


def test_motive_lists_every_vehicle_across_pages(rig):
    r = rig(vehicles=250)
    vehicles = r.motive.fetch_vehicles()
    assert [v["id"] for v in vehicles] == [8_000_001 + i for i in range(250)]
    pages = sorted(int(q.query["page_no"]) for q in r.requests("/v1/vehicles"))
    assert pages == [1, 2, 3]  # 100 + 100 + 50: the short last page ends the walk


def test_motive_full_last_page_walks_past_the_end_to_an_empty_page(rig):
    r = rig(vehicles=200)
    assert len(r.motive.fetch_vehicles()) == 200
    pages = sorted(int(q.query["page_no"]) for q in r.requests("/v1/vehicles"))
    assert pages == [1, 2, 3]
    past = r.backend.handle("GET", "/v1/vehicles", {"page_no": "3", "per_page": "100"},
                            {"X-API-Key": r.backend.config.motive_api_key})
    assert json.loads(past.body)["vehicles"] == []


def test_motive_locations_match_ground_truth_in_half_open_window(rig):
    r = rig(vehicles=12)
    result = r.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    assert result.failed_vehicle_ids == []
    cfg = r.backend.config
    for v in r.backend.motive:
        expected = [int(p.t) for p in track_for(cfg.seed, v, date(2026, 3, 2), cfg.interval_s, cfg.fleet_start).points]
        got = result.locations[v.provider_id]
        times = [parse_instant(x["located_at"]) for x in got]
        assert all(DAY_START <= t < DAY_END for t in times)
        assert [int(t.timestamp()) for t in times] == expected, v.provider_id
    # vehicle index 4 answers with -05:00 offsets: the filter parsed them, nothing was lost
    assert result.locations["8000005"][0]["located_at"].endswith("-05:00")
    # requests were padded by a day on each side (dates may be company-local)
    q = r.requests("/v3/vehicle_locations/8000001")[0].query
    assert (q["start_date"], q["end_date"]) == ("2026-03-01", "2026-03-03")


def test_samsara_cursor_walk_merges_split_vehicles_and_survives_empty_page(rig):
    r = rig(vehicles=14, samsara_page_size=4)
    stats = r.samsara.fetch_stats_history(DAY_START, DAY_END)
    reqs = r.requests("/stats/history")
    assert len(reqs) >= 5
    bodies = [json.loads(r.backend.handle("GET", q.path, q.query, {"Authorization":
              f"Bearer {r.backend.config.samsara_api_token}"}).body) for q in reqs]
    assert any(b["data"] == [] and b["pagination"]["hasNextPage"] for b in bodies), "no empty page was served"
    assert bodies[-1]["pagination"] == {"endCursor": "", "hasNextPage": False}
    ids = [s["id"] for s in stats]
    assert len(ids) == len(set(ids))  # vehicles split over two pages were merged
    cfg = r.backend.config
    for v in r.backend.samsara:
        track = track_for(cfg.seed, v, date(2026, 3, 2), cfg.interval_s, cfg.fleet_start)
        record = next((s for s in stats if s["id"] == v.provider_id), None)
        if not track.points:
            assert record is None
            continue
        gps_times = [int(parse_instant(g["time"]).timestamp()) for g in record["gps"]]
        assert gps_times == [int(p.t) for p in track.points]


def test_samsara_assignments_fleet_wide_open_ended_and_passengers(rig):
    r = rig(vehicles=30)
    rows = r.samsara.fetch_driver_assignments(DAY_START, DAY_END)
    q = r.requests("driver-vehicle-assignments")
    assert len(q) >= 2 and all(x.query["filterBy"] == "vehicles" for x in q)
    assert any("endTime" not in row for row in rows)  # open-ended static assignments
    assert any(row["isPassenger"] for row in rows)
    assert all(row["assignedAtTime"] == "" for row in rows if row["assignmentType"] != "dispatch")
    assert len({json.dumps(x, sort_keys=True) for x in rows}) == len(rows)


def test_registry_fetch_all_and_to_dataframe(rig):
    r = rig(vehicles=5)
    reg = r.motive.registry
    assert reg.list_providers() == ["motive", "samsara"]
    assert "vehicle_locations" in reg.list_endpoints("MOTIVE")
    assert reg.get("Samsara", "VEHICLE_STATS_HISTORY").path == "/fleet/vehicles/stats/history"
    assert [e.name for e in reg.find_by_path("/v3/")] == ["vehicle_locations"]
    assert "GET /v3/vehicle_locations/{vehicle_id} [none]" in reg.describe("motive")
    try:
        reg.get("motive", "nope")
    except KeyError as exc:
        assert "known: vehicle_locations, vehicles" in str(exc)
    locs = r.motive.fetch_all("vehicle_locations", vehicle_id=8000002, start_date=date(2026, 3, 2),
                              end_date=date(2026, 3, 2))
    assert locs and all(x["located_at"].startswith("2026-03-02") for x in locs)
    df = r.samsara.to_dataframe("vehicles")
    assert len(df) == 5 and "externalIds.samsara.vin" in df.columns
    try:
        r.motive.fetch_all("vehicle_locations", vehicle_id=1)
    except ValueError as exc:
        assert "missing required parameter(s) start_date, end_date" in str(exc)
    else:
        raise AssertionError("missing parameters accepted")


def _scripted_samsara(pages: list[dict]):
    """A SamsaraClient whose HTTP answers are the given bodies, in order (a provider misbehaving)."""
    import httpx

    from fleet_assets.providers import SamsaraClient

    from .conftest import FAST

    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(dict(request.url.params))
        return httpx.Response(200, json=pages[min(len(calls) - 1, len(pages) - 1)])
    return SamsaraClient.from_token("token-123", "http://samsara.test", transport=httpx.MockTransport(handler),
                                    **FAST), calls


def test_cursor_loop_and_missing_cursor_are_reported():
    import pytest

    from fleet_assets.providers import ProviderResponseError

    page = {"data": [{"driver": {"id": "1"}, "vehicle": {"id": "2"}, "startTime": "2026-03-02T00:00:00Z"}],
            "pagination": {"endCursor": "abc", "hasNextPage": True}}
    client, calls = _scripted_samsara([page])
    with pytest.raises(ProviderResponseError, match="cursor loop: page 2 repeats endCursor 'abc'"):
        client.fetch_driver_assignments(DAY_START, DAY_END)
    assert [c.get("after") for c in calls[:2]] == [None, "abc"]
    client, _ = _scripted_samsara([{"data": [], "pagination": {"hasNextPage": True}}])
    with pytest.raises(ProviderResponseError, match="page 1 says hasNextPage but has no endCursor"):
        client.fetch_driver_assignments(DAY_START, DAY_END)
    client, _ = _scripted_samsara([{"data": []}])
    with pytest.raises(ProviderResponseError, match="page 1 has no valid pagination block"):
        client.fetch_stats_history(DAY_START, DAY_END)
    # a terminal page may omit endCursor entirely
    client, _ = _scripted_samsara([{"data": [], "pagination": {"hasNextPage": False}}])
    assert client.fetch_stats_history(DAY_START, DAY_END) == []


def test_late_arriving_records_show_up_when_the_window_is_refetched(rig):
    from fleet_assets.sandbox import FaultConfig

    clean = rig(vehicles=6)
    late = rig(vehicles=6, faults=FaultConfig(late_rate=0.1))
    truth = clean.samsara.fetch_stats_history(DAY_START, DAY_END)
    first = late.samsara.fetch_stats_history(DAY_START, DAY_END)
    again = late.samsara.fetch_stats_history(DAY_START, DAY_END)
    count = lambda records: sum(len(r.get("gps", [])) for r in records)  # noqa: E731
    assert count(first) < count(truth) and json.dumps(again, sort_keys=True) == json.dumps(truth, sort_keys=True)
    m_first = late.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    m_again = late.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    m_truth = clean.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    assert sum(map(len, m_first.locations.values())) < sum(map(len, m_truth.locations.values()))
    assert m_again.locations == m_truth.locations
