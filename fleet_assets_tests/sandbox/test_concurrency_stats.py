"""The sandbox counts what a provider would: requests in flight at once per provider and route, and 429s,
told by ``GET /_sandbox/stats`` (so a test or benchmark can check a documented concurrency cap at the server)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.sandbox.server import STATS_PATH


def test_peak_in_flight_and_429s_per_provider_and_route():
    cfg = SandboxConfig(motive_vehicles=6, samsara_vehicles=1, latency_ms=300, rate_limit_per_s=2.0)
    with serve_in_thread(cfg) as url:
        ids = [v.provider_id for v in url.backend.motive]
        with httpx.Client(base_url=url, headers={"X-API-Key": cfg.motive_api_key}, timeout=10) as client, \
                ThreadPoolExecutor(6) as pool:
            window = "start_date=2025-06-01&end_date=2025-06-01"
            statuses = list(pool.map(lambda i: client.get(f"/v3/vehicle_locations/{i}?{window}").status_code, ids))
        stats = httpx.get(url + STATS_PATH).json()
    route = stats["motive /v3/vehicle_locations"]
    # six calls at once, each held 300 ms by the server: all six were in flight together
    assert route["peak_in_flight"] == 6 and stats["motive"]["peak_in_flight"] == 6
    assert route["requests"] == 6 and route["429"] == statuses.count(429) >= 1  # server limit of 2 req/s
    assert "samsara" not in stats
