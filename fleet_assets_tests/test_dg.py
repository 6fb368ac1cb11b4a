"""`dg check defs` and `dg list defs` work on the project ([tool.dg] in pyproject.toml), as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DG = Path(sys.executable).with_name("dg")


@pytest.fixture
def dg_env(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text((REPO / "config" / "dagster.yaml").read_text())
    env = {**os.environ, "DAGSTER_HOME": str(home), "FLEET_DATA_DIR": str(tmp_path / "data"),
           "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}  # the venv dg should use: the running one
    for name in ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "SEC_AUTH_TOKEN"):
        env.pop(name, None)
    return env


def _dg(env, *args):
    return subprocess.run([str(DG), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=240)


def test_dg_check_defs(dg_env):
    result = _dg(dg_env, "check", "defs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_dg_list_defs_lists_the_code_location(dg_env):
    result = _dg(dg_env, "list", "defs", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assets = {a["asset_key"] for a in listed["assets"]}
    assert {"raw_motive", "telemetry", "edge_events", "warehouse_catalog", "analytics_upload"} <= assets
    assert {j["name"] for j in listed["jobs"]} >= {"provider_ingest_job", "telemetry_job", "warehouse_catalog_job",
                                                   "storage_retention_job"}
    assert {s["name"] for s in listed["schedules"]} == {"provider_ingest_lookback_schedule",
                                                        "warehouse_catalog_schedule", "storage_retention_schedule"}
    assert {r["name"] for r in listed["resources"]} == {"analytics", "motive", "samsara", "storage"}
