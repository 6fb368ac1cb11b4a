"""Issue 12 item 6: Samsara's documented per-endpoint caps (driver-vehicle assignments 5 req/s, vehicles
25 req/s; developers.samsara.com/docs/rate-limits and the endpoint reference) are enforced per endpoint,
not one budget for every Samsara call. Measured where it counts: request arrival times at a loopback server."""

import threading
import time

from fleet_assets.providers import SamsaraClient
from fleet_assets.sandbox import SandboxConfig, serve_in_thread

from .conftest import DAY_END, DAY_START

CFG = SandboxConfig(motive_vehicles=0, samsara_vehicles=30, interval_s=1800, samsara_assignment_page_size=5)
CAPS = {"/fleet/driver-vehicle-assignments": 5, "/fleet/vehicles": 25}


def _busiest_second(times: list[float]) -> int:
    """Most requests that arrived within any one-second window [t, t + 1)."""
    times = sorted(times)
    return max((sum(1 for u in times[i:] if u < t + 1.0) for i, t in enumerate(times)), default=0)


def test_each_samsara_endpoint_stays_under_its_own_cap_at_the_server():
    with serve_in_thread(CFG) as url:
        client = SamsaraClient.from_token(CFG.samsara_api_token, url, backoff_base_s=0.01)
        client.assignment_types = ()  # one walk: ~15 pages at 5 req/s
        errors = []

        def run(fn):
            try:
                fn()
            except Exception as exc:  # surfaced below
                errors.append(exc)

        t0 = time.monotonic()
        threads = [threading.Thread(target=run, args=(lambda: client.fetch_driver_assignments(DAY_START, DAY_END),)),
                   threading.Thread(target=run, args=(lambda: client.fetch_all("vehicles", limit=1),))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        elapsed = time.monotonic() - t0
        served = list(url.backend.requests)
    assert not errors, errors
    per_path = {path: [r.arrived for r in served if r.path == path] for path in CAPS}
    assert len(per_path["/fleet/driver-vehicle-assignments"]) >= 10 and len(per_path["/fleet/vehicles"]) >= 30
    busiest = {path: _busiest_second(times) for path, times in per_path.items()}
    for path, cap in CAPS.items():
        assert busiest[path] <= cap, (path, busiest, round(elapsed, 2))
    # No single 10 req/s budget either: the vehicles walk ran well above 10 req/s while assignments were paced.
    assert busiest["/fleet/vehicles"] > 12, busiest
    assert all(r.status == 200 for r in served)


def test_resources_share_one_budget_per_endpoint_and_allow_overrides():
    from fleet_assets.providers.ratelimit import CAP_HEADROOM
    from fleet_assets.provider_ingest.resources import SamsaraResource

    first = SamsaraResource(api_key="k" * 8, base_url="http://caps.test").get_client()
    second = SamsaraResource(api_key="k" * 8, base_url="http://caps.test").get_client()
    assert first.rate_limit_per_s == 150.0  # Samsara's per-token limit, not 10 req/s for everything
    caps = {name: round(1 / lim.interval / CAP_HEADROOM, 6) for name, lim in first.endpoint_limiters.items()}
    assert caps == {"driver_vehicle_assignments": 5.0, "vehicles": 25.0, "vehicle_stats_history": 50.0}
    assert all(second.endpoint_limiters[n] is lim for n, lim in first.endpoint_limiters.items())
    custom = SamsaraResource(api_key="k" * 8, base_url="http://caps2.test",
                             endpoint_rate_limits={"driver_vehicle_assignments": 2.0}).get_client()
    assert round(1 / custom.endpoint_limiters["driver_vehicle_assignments"].interval / CAP_HEADROOM, 6) == 2.0
    assert SamsaraResource(sandbox_vehicles=1).get_client().endpoint_limiters == {}  # in-process sandbox: no caps
