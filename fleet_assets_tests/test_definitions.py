"""The code location loads, in-process and through the real `dagster` CLI."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

REPO = Path(__file__).resolve().parents[1]


def test_definitions_are_loadable():
    from fleet_assets.definitions import defs

    dg.Definitions.validate_loadable(defs)


def test_dagster_cli_validates_workspace(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "FLEET_DATA_DIR": str(tmp_path / "data")}
    for name in ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "SEC_AUTH_TOKEN"):
        env.pop(name, None)
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr
