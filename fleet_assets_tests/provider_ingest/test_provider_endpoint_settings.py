"""Issue 12 item 25: pointing the providers at another base URL never writes sandbox data silently.

* the base URL is settable by environment (MOTIVE_BASE_URL / SAMSARA_BASE_URL);
* overriding one resource field in run config never drops the credential bound with dg.EnvVar;
* no fallback to the sandbox while a credential variable is set (a base URL without one is an error);
* data the sandbox produced is marked in the materialization metadata and the raw manifest.
Real HTTP: a loopback uvicorn sandbox; ``mark_responses=False`` makes it answer like a real provider.
"""

import dagster as dg
import pytest

from fleet_assets.provider_ingest.defs import PIPELINE_ASSETS
from fleet_assets.providers.errors import ProviderConfigError
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.storage.raw_store import raw_day_dir, read_raw

DAY = "2025-06-02"
RAW = PIPELINE_ASSETS[:2]  # raw_motive, raw_samsara
CFG = SandboxConfig(motive_vehicles=2, samsara_vehicles=2, interval_s=1800)
# The suite-wide conftest clears MOTIVE_/SAMSARA_ credentials and base URLs before each test.


def _job(storage, motive, samsara):
    defs = dg.Definitions(assets=RAW, resources={"storage": storage, "motive": motive, "samsara": samsara},
                          jobs=[dg.define_asset_job("raw_job", selection=dg.AssetSelection.assets(*RAW))])
    return defs.resolve_job_def("raw_job")


def _raw_metadata(result, provider):
    return result.asset_materializations_for_node(f"raw_{provider}")[0].metadata


def test_base_url_comes_from_the_environment(monkeypatch):
    with serve_in_thread(CFG) as url:
        monkeypatch.setenv("MOTIVE_BASE_URL", url)
        monkeypatch.setenv("SAMSARA_BASE_URL", url + "/")
        monkeypatch.setenv("MOTIVE_API_KEY", CFG.motive_api_key)
        monkeypatch.setenv("SAMSARA_API_TOKEN", CFG.samsara_api_token)
        motive, samsara = MotiveResource().get_client(), SamsaraResource().get_client()
        assert motive.settings.base_url == url and samsara.settings.base_url == url + "/"
        assert len(motive.fetch_vehicles()) == 2 and len(samsara.fetch_all("vehicles")) == 2
        assert {r.provider for r in url.backend.requests} == {"motive", "samsara"}
    # An explicit field still wins over the environment.
    monkeypatch.setenv("MOTIVE_BASE_URL", "http://127.0.0.1:9")
    assert MotiveResource(base_url="http://elsewhere.test").get_client().settings.base_url == "http://elsewhere.test"


def test_run_config_base_url_override_keeps_the_env_var_credential(storage, monkeypatch):
    """What the code location binds (api_key=dg.EnvVar(...)) plus a base_url in run config, as the UI sends it."""
    monkeypatch.setenv("MOTIVE_API_KEY", CFG.motive_api_key)
    monkeypatch.setenv("SAMSARA_API_TOKEN", CFG.samsara_api_token)
    from fleet_assets.provider_ingest.resources import provider_resources

    bound = provider_resources()
    assert isinstance(bound["motive"].api_key, dg.EnvVar) and bound["motive"].api_key.env_var_name == "MOTIVE_API_KEY"
    with serve_in_thread(CFG) as url:
        job = _job(storage, bound["motive"], bound["samsara"])
        config = {"resources": {p: {"config": {"base_url": url}} for p in ("motive", "samsara")}}
        result = job.execute_in_process(partition_key=DAY, run_config=config)
        served = {r.provider for r in url.backend.requests if r.status == 200}
    assert result.success and served == {"motive", "samsara"}  # the configured URL got the requests


def test_no_sandbox_fallback_while_a_credential_variable_is_set(storage, monkeypatch, caplog):
    monkeypatch.setenv("MOTIVE_API_KEY", CFG.motive_api_key)
    with serve_in_thread(CFG) as url:
        client = MotiveResource(base_url=url).get_client()  # api_key not configured: taken from the env var
        assert len(client.fetch_vehicles()) == 2 and len(url.backend.requests) >= 1
    assert "using the built-in sandbox" not in caplog.text
    monkeypatch.setenv("SAMSARA_API_TOKEN", "   ")
    with pytest.raises(ProviderConfigError, match="SAMSARA_API_TOKEN is set but empty"):
        SamsaraResource().get_client()


def test_a_base_url_without_a_credential_is_an_error_and_writes_nothing(storage, monkeypatch):
    monkeypatch.setenv("SAMSARA_BASE_URL", "https://api.eu.samsara.com")
    with pytest.raises(ProviderConfigError, match=r"samsara .*SAMSARA_BASE_URL is https://api.eu.samsara.com but "
                                                  r"SAMSARA_API_TOKEN is not set"):
        dg.materialize(RAW[1:], partition_key=DAY, resources={"storage": storage, "samsara": SamsaraResource()})
    assert not raw_day_dir(storage.raw_dir, "samsara", DAY).exists()
    with pytest.raises(ProviderConfigError, match=r"motive .*base_url is http://proxy.test but MOTIVE_API_KEY"):
        MotiveResource(base_url="http://proxy.test").get_client()


def test_sandbox_data_is_marked_in_metadata_and_manifest(storage):
    small = {"sandbox_vehicles": 2, "sandbox_interval_s": 1800}
    result = dg.materialize(RAW, partition_key=DAY, resources={
        "storage": storage, "motive": MotiveResource(**small), "samsara": SamsaraResource(**small)})
    for provider in ("motive", "samsara"):
        assert _raw_metadata(result, provider)["sandbox"].value is True
        manifest = read_raw(storage.raw_dir, provider, DAY).manifest
        assert manifest["sandbox"] is True and manifest["source"] == "built-in sandbox"
    assert read_raw(storage.raw_dir, "motive", DAY).manifest["units"] == "imperial"
    normalized = dg.materialize([PIPELINE_ASSETS[2]], partition_key=DAY, resources={"storage": storage})
    assert normalized.asset_materializations_for_node("normalized_motive")[0].metadata["sandbox"].value is True
    # A fleet-sandbox server behind a configured URL is still the sandbox; a real provider is not.
    for marked in (True, False):
        cfg = SandboxConfig(motive_vehicles=2, samsara_vehicles=2, interval_s=1800, mark_responses=marked)
        with serve_in_thread(cfg) as url:
            result = dg.materialize(RAW[:1], partition_key=DAY, resources={
                "storage": storage, "motive": MotiveResource(api_key=cfg.motive_api_key, base_url=url)})
        assert _raw_metadata(result, "motive")["sandbox"].value is marked
        manifest = read_raw(storage.raw_dir, "motive", DAY).manifest
        assert manifest["sandbox"] is marked and manifest["source"] == url
        assert cfg.motive_api_key not in str(manifest)
