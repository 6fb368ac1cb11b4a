"""The sandbox counts what a provider would: requests in flight at once per provider and route, and 429s,
told by ``GET /_sandbox/stats`` (so a test or benchmark can check a documented concurrency cap at the server),
and can enforce Motive's documented simultaneous-call cap with 429s."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.sandbox.server import STATS_PATH

WINDOW = "start_date=2025-06-01&end_date=2025-06-01"


def _six_location_calls_at_once(cfg: SandboxConfig) -> tuple[list[httpx.Response], dict]:
    """Six Motive vehicle_locations calls in parallel (each held 1 s by the server), then the server's stats."""
    with serve_in_thread(cfg) as url:
        ids = [v.provider_id for v in url.backend.motive]
        with httpx.Client(base_url=url, headers={"X-API-Key": cfg.motive_api_key}, timeout=10) as client, \
                ThreadPoolExecutor(len(ids)) as pool:
            replies = list(pool.map(lambda i: client.get(f"/v3/vehicle_locations/{i}?{WINDOW}"), ids))
        return replies, httpx.get(url + STATS_PATH).json()


def test_peak_in_flight_and_429s_per_provider_and_route():
    cfg = SandboxConfig(motive_vehicles=6, samsara_vehicles=1, latency_ms=1000, rate_limit_per_s=2.0)
    replies, stats = _six_location_calls_at_once(cfg)
    route = stats["motive /v3/vehicle_locations"]
    # six calls at once, each held 1 s by the server: all six were in flight together
    assert route["peak_in_flight"] == 6 and stats["motive"]["peak_in_flight"] == 6
    statuses = [r.status_code for r in replies]
    assert route["requests"] == 6 and route["429"] == statuses.count(429) >= 1  # server limit of 2 req/s
    assert "samsara" not in stats


def test_motive_simultaneous_cap_is_enforced_with_429():
    cfg = SandboxConfig(motive_vehicles=6, samsara_vehicles=0, latency_ms=1000, motive_max_simultaneous=4)
    replies, stats = _six_location_calls_at_once(cfg)
    refused = [r for r in replies if r.status_code == 429]
    # six at once against a cap of four: two refused, with Retry-After, and counted as 429s
    assert len(refused) == 2 and all(r.headers["Retry-After"] == "1" for r in refused)
    assert stats["motive /v3/vehicle_locations"] == {"requests": 6, "429": 2, "peak_in_flight": 6}
