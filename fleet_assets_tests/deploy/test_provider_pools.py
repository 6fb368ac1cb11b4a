"""Provider budgets shared across runs: with a provider pool limit of N on the deployed (Postgres) instance,
a run's fetch paces itself at 1/N of the documented limits. Measured where it counts: request arrivals at
the loopback sandbox server over real HTTP (the harness of providers/test_endpoint_rate_caps.py)."""

from __future__ import annotations

import dagster as dg
import pytest

from fleet_assets.provider_ingest.assets import raw_motive, raw_samsara
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.providers import MotiveClient, SamsaraClient
from fleet_assets.providers.client_settings import ClientSettings
from fleet_assets.providers.errors import ProviderConfigError
from fleet_assets.providers.ratelimit import CAP_HEADROOM
from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.warehouse.resources import FleetStorage

DAY = "2026-03-02"
ASSIGNMENTS = "/fleet/driver-vehicle-assignments"
LATENCY_S = 0.2


def _rate(times: list[float]) -> float:
    """Sustained requests per second between the first and the last arrival."""
    times = sorted(times)
    return (len(times) - 1) / (times[-1] - times[0])


def _peak_in_flight(times: list[float], latency: float) -> int:
    """Most requests being served at once (each is held ``latency`` by the server)."""
    times = sorted(times)
    return max(sum(1 for u in times if t <= u < t + latency) for t in times)


def _materialize(asset, instance, tmp_path, **resource):
    result = dg.materialize([asset], partition_key=DAY, instance=instance,
                            resources={"storage": FleetStorage(data_dir=str(tmp_path / "data")), **resource})
    assert result.success


def test_samsara_fetch_paces_each_endpoint_at_its_cap_over_the_pool_limit(deployed_instance, tmp_path):
    deployed_instance.event_log_storage.set_concurrency_slots("samsara_api", 2)
    cfg = SandboxConfig(motive_vehicles=0, samsara_vehicles=30, interval_s=1800, samsara_assignment_page_size=4)
    with serve_in_thread(cfg) as url:
        samsara = SamsaraResource(api_key=cfg.samsara_api_token, base_url=url, assignment_types=[])
        _materialize(raw_samsara, deployed_instance, tmp_path, samsara=samsara)
        served = list(url.backend.requests)
    assignments = [r.arrived for r in served if r.path == ASSIGNMENTS]
    assert len(assignments) >= 8 and all(r.status == 200 for r in served)
    # Samsara documents 5 req/s for assignments: two runs at once get half each (paced at 90%: 2.25 req/s).
    assert 5 * CAP_HEADROOM / 2 * 0.8 < _rate(assignments) <= 5 / 2, _rate(assignments)


def test_motive_fetch_shares_the_ten_simultaneous_calls_with_the_pool(deployed_instance, tmp_path):
    deployed_instance.event_log_storage.set_concurrency_slots("motive_api", 4)
    cfg = SandboxConfig(motive_vehicles=12, samsara_vehicles=0, interval_s=1800, latency_ms=LATENCY_S * 1000)
    with serve_in_thread(cfg) as url:
        motive = MotiveResource(api_key=cfg.motive_api_key, base_url=url, rate_limit_per_s=1000.0)
        _materialize(raw_motive, deployed_instance, tmp_path, motive=motive)
        served = [r.arrived for r in url.backend.requests if r.path.startswith("/v3/vehicle_locations/")]
    assert len(served) == 12
    # Motive allows 10 simultaneous location calls: four fetches at once get 10 // 4 = 2 each.
    assert _peak_in_flight(served, LATENCY_S) == 2


def test_one_fetch_alone_keeps_the_whole_budget_and_too_many_are_refused():
    base = ClientSettings(provider="motive", base_url="http://x.test", credential="k" * 8)
    assert MotiveClient.settings_for_share(base, 1) is base
    half = SamsaraClient.settings_for_share(ClientSettings(provider="samsara", base_url="http://x.test",
                                                           credential="k" * 8), 2)
    assert half.rate_limit_per_s == 75.0 and half.max_concurrency == 5
    assert SamsaraClient.endpoint_caps_for(half) == {"driver_vehicle_assignments": 2.5, "vehicles": 12.5,
                                                     "vehicle_stats_history": 25.0}
    with pytest.raises(ProviderConfigError, match=r"12 fetches may run at once \(pool motive_api has limit 12\), "
                       r"but 10 simultaneous requests cannot be shared 12 ways"):
        MotiveClient.settings_for_share(base, 12, "pool motive_api has limit 12")
