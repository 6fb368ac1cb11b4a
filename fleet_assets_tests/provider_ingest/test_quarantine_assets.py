"""Issue 12 item 4 end to end: quarantined records are kept in the raw store next to the day's
responses, counted in the materialization metadata, and a non-blocking check warns; the day lands."""

import gzip
import json

import dagster as dg

from fleet_assets.provider_ingest.defs import PIPELINE_ASSETS
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.storage.raw_store import read_raw

DAY = "2025-06-02"
BAD = {"sandbox_vehicles": 9, "sandbox_interval_s": 1800, "sandbox_malformed_records": True}


def test_quarantine_is_stored_counted_and_warned_and_the_day_lands(storage):
    result = dg.materialize(PIPELINE_ASSETS, partition_key=DAY, resources={
        "storage": storage, "motive": MotiveResource(**BAD), "samsara": SamsaraResource(**BAD)})
    assert result.success
    checks = {(c.asset_key.to_user_string(), c.check_name): c for c in result.get_asset_check_evaluations()}
    for provider in ("motive", "samsara"):
        meta = result.asset_materializations_for_node(f"raw_{provider}")[0].metadata
        count = meta["quarantined_records"].value
        assert count >= 1, provider  # vehicles 1 and 8 (index % 7 == 1) when they drove that day
        check = checks[(f"raw_{provider}", "no_quarantined_records")]
        assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
        assert check.metadata["quarantined_records"].value == count
        raw = read_raw(storage.raw_dir, provider, DAY)
        assert (raw.path / "quarantine.ndjson.gz").exists() and raw.manifest["counts"]["quarantined"] == count
        kept = [json.loads(line) for line in gzip.decompress((raw.path / "quarantine.ndjson.gz").read_bytes()).splitlines()]
        assert len(kept) == count and all({"provider", "endpoint", "where", "error", "record"} <= set(q) for q in kept)
        assert all(q["provider"] == provider for q in kept)
    spec = next(s for s in PIPELINE_ASSETS[0].check_specs if s.name == "no_quarantined_records")
    assert spec.blocking is False
    assert result.asset_materializations_for_node("telemetry")[0].metadata["dagster/row_count"].value > 0


def test_clean_day_passes_the_check_and_writes_no_quarantine_file(storage):
    clean = {**BAD, "sandbox_malformed_records": False}
    result = dg.materialize(PIPELINE_ASSETS[:2], partition_key=DAY, resources={
        "storage": storage, "motive": MotiveResource(**clean), "samsara": SamsaraResource(**clean)})
    assert all(c.passed for c in result.get_asset_check_evaluations())
    assert result.asset_materializations_for_node("raw_samsara")[0].metadata["quarantined_records"].value == 0
    assert not (read_raw(storage.raw_dir, "samsara", DAY).path / "quarantine.ndjson.gz").exists()
