"""Acceptance: a day's provider assets (raw_* -> normalized_* -> telemetry) and the catalog, materialized in
deployed mode (datasets on S3, state URL on Postgres) give the same row counts and the same sorted-content
hash as embedded mode."""

from __future__ import annotations

import dagster as dg
import pytest

from fleet_assets.provider_ingest.defs import PIPELINE_ASSETS
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.warehouse.assets import warehouse_catalog
from fleet_assets.warehouse.resources import FleetStorage
from .digests import output_digests

DAY = "2025-06-02"
SMALL = {"sandbox_vehicles": 3, "sandbox_interval_s": 600}


def _materialize_day(storage: FleetStorage) -> dict:
    resources = {"storage": storage, "motive": MotiveResource(**SMALL), "samsara": SamsaraResource(**SMALL)}
    result = dg.materialize([*PIPELINE_ASSETS, warehouse_catalog], partition_key=DAY, resources=resources)
    assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
    catalog = result.asset_materializations_for_node("warehouse_catalog")[0].metadata
    return {"catalog_rows": catalog["rows"].value, **output_digests(storage, [DAY])}


@pytest.mark.slow
def test_deployed_mode_matches_embedded(tmp_path, s3_storage_url, state_url, monkeypatch):
    embedded = _materialize_day(FleetStorage(data_dir=str(tmp_path / "embedded")))
    monkeypatch.setenv("FLEET_STATE_URL", state_url)
    deployed_storage = FleetStorage(data_dir=str(tmp_path / "host"), storage_url=s3_storage_url)
    deployed = _materialize_day(deployed_storage)
    assert embedded["telemetry"][0] > 0 and embedded["catalog_rows"]["telemetry"] == embedded["telemetry"][0]
    assert deployed == embedded
    # deployed mode really ran on S3: nothing but the host-local catalog script under the data dir
    assert deployed_storage.layout.state_url == state_url
    assert sorted(p.name for p in (tmp_path / "host").iterdir()) == ["warehouse.sql"]
    assert deployed_storage.layout.store.list("parquet/telemetry") == [f"parquet/telemetry/date={DAY}/part-0.parquet"]
