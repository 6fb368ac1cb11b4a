"""Through the real uvicorn loopback server, and through the Dagster resources."""

import json
import logging

import dagster as dg
import httpx
import pytest

from fleet_assets.providers import MotiveClient, ProviderConfigError, SamsaraClient
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.sandbox import FaultConfig, SandboxConfig, ProviderSandboxTransport, serve_in_thread

from .conftest import DAY_END, DAY_START, FAST


def _canon(records) -> list[str]:
    return [json.dumps(r, sort_keys=True) for r in records]


def test_loopback_server_with_faults_matches_in_process_fetch():
    base = SandboxConfig(motive_vehicles=8, samsara_vehicles=8, interval_s=120, samsara_page_size=3)
    faulty = SandboxConfig(motive_vehicles=8, samsara_vehicles=8, interval_s=120, samsara_page_size=3,
                           latency_ms=5, faults=FaultConfig(rate=0.25, retry_after_s=0.02, timeout_s=0.6,
                                                            kinds=("rate_limit", "http_502", "truncated", "timeout")))
    transport = ProviderSandboxTransport(base)
    ref_m = MotiveClient.from_key(base.motive_api_key, "http://x", transport=transport, **FAST)
    ref_s = SamsaraClient.from_token(base.samsara_api_token, "http://x", transport=transport, **FAST)
    with serve_in_thread(faulty) as url:
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/healthz").json() == {"ok": True}
        m = MotiveClient.from_key(faulty.motive_api_key, url, **{**FAST, "read_timeout_s": 0.3})
        s = SamsaraClient.from_token(faulty.samsara_api_token, url, **{**FAST, "read_timeout_s": 0.3})
        got = m.fetch_vehicle_locations(DAY_START, DAY_END)
        stats = s.fetch_stats_history(DAY_START, DAY_END)
        assignments = s.fetch_driver_assignments(DAY_START, DAY_END)
        unauthorized = httpx.get(f"{url}/fleet/vehicles", headers={"Authorization": "Bearer nope"})
        served = url.backend.requests
    want = ref_m.fetch_vehicle_locations(DAY_START, DAY_END)
    assert got.failed_vehicle_ids == [] and _canon(got.vehicles) == _canon(want.vehicles)
    assert {k: _canon(v) for k, v in got.locations.items()} == {k: _canon(v) for k, v in want.locations.items()}
    assert _canon(stats) == _canon(ref_s.fetch_stats_history(DAY_START, DAY_END))
    assert _canon(assignments) == _canon(ref_s.fetch_driver_assignments(DAY_START, DAY_END))
    assert any(r.fault for r in served)
    assert unauthorized.status_code == 401 and "message" in unauthorized.json()


def test_resources_without_keys_use_the_sandbox_and_say_so(caplog):
    with caplog.at_level(logging.WARNING, logger="fleet_assets.provider_ingest.resources"):
        motive = MotiveResource(sandbox_vehicles=3, sandbox_interval_s=600).get_client()
        samsara = SamsaraResource(sandbox_vehicles=3, sandbox_interval_s=600).get_client()
    assert "Motive: no MOTIVE_API_KEY set, using the built-in sandbox" in caplog.text
    assert "Samsara: no SAMSARA_API_TOKEN set, using the built-in sandbox" in caplog.text
    with motive as client:
        result = client.fetch_vehicle_locations(DAY_START, DAY_END)
    assert len(result.vehicles) == 3 and result.failed_vehicle_ids == []
    shared_vin = result.vehicles[0]["vin"]
    stats = samsara.fetch_stats_history(DAY_START, DAY_END)
    assert stats[0]["externalIds"]["samsara.vin"] == shared_vin  # one physical truck in both providers


def test_resource_with_env_var_key_talks_to_configured_base_url(monkeypatch):
    cfg = SandboxConfig(motive_vehicles=2, samsara_vehicles=2, interval_s=600)
    monkeypatch.setenv("MOTIVE_API_KEY", cfg.motive_api_key)
    monkeypatch.setenv("SAMSARA_API_TOKEN", "wrong-token-value")
    with serve_in_thread(cfg) as url:
        resources = dg.build_resources({
            "motive": MotiveResource(api_key=dg.EnvVar("MOTIVE_API_KEY"), base_url=url, backoff_base_s=0.01),
            "samsara": SamsaraResource(api_key=dg.EnvVar("SAMSARA_API_TOKEN"), base_url=url, max_retries=0),
        })
        with resources as r:
            result = r.motive.get_client().fetch_vehicle_locations(DAY_START, DAY_END)
            assert [v["id"] for v in result.vehicles] == [8000001, 8000002]
            from fleet_assets.providers import ProviderAuthError

            with pytest.raises(ProviderAuthError, match="Set SAMSARA_API_TOKEN") as info:
                r.samsara.get_client().fetch_driver_assignments(DAY_START, DAY_END)
            assert "wrong-token-value" not in str(info.value)


def test_provider_resources_bind_keys_via_env_var_only_when_set(monkeypatch):
    from fleet_assets.provider_ingest.resources import provider_resources

    monkeypatch.delenv("MOTIVE_API_KEY", raising=False)
    monkeypatch.setenv("SAMSARA_API_TOKEN", "super-secret-token")
    res = provider_resources()
    assert res["motive"].api_key is None
    assert isinstance(res["samsara"].api_key, dg.EnvVar) and res["samsara"].api_key == "SAMSARA_API_TOKEN"
    assert "super-secret-token" not in repr(res["samsara"])


def test_bad_ca_bundle_is_a_clear_configuration_error():
    with pytest.raises(ProviderConfigError, match="motive tls: verify_ssl CA bundle '/no/such.pem' does not exist"):
        MotiveResource(api_key="k" * 10, verify_ssl="/no/such.pem").get_client()


def _self_signed(tmp_path):
    import shutil
    import subprocess

    assert shutil.which("openssl"), "the TLS tests need the openssl CLI to make a throwaway certificate"
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], check=True, capture_output=True, timeout=60)
    return str(cert), str(key)


def test_verify_ssl_against_a_real_tls_loopback_server(tmp_path):
    cert, key = _self_signed(tmp_path)
    cfg = SandboxConfig(motive_vehicles=2, samsara_vehicles=2, interval_s=1800)
    with serve_in_thread(cfg, ssl_certfile=cert, ssl_keyfile=key) as url:
        assert url.startswith("https://")
        for verify in (cert, "false"):  # our own CA bundle, or verification off
            client = MotiveResource(api_key=cfg.motive_api_key, base_url=url, verify_ssl=verify).get_client()
            assert len(client.fetch_vehicles()) == 2
        strict = MotiveResource(api_key=cfg.motive_api_key, base_url=url, backoff_base_s=0.01).get_client()
        with pytest.raises(ProviderConfigError, match="TLS certificate of https://127.0.0.1:.* not trusted.*"
                                                      "set verify_ssl to the path of its CA bundle"):
            strict.fetch_vehicles()
        assert strict.requests_sent == 1  # a trust problem is not retried
