"""`make dev` (scripts/dev.sh) really starts the platform on embedded defaults.

Starts the same script the Makefile runs, on free loopback ports and a temp
DAGSTER_HOME / data dir, waits until the Dagster webserver reports the code
location as loaded and the ingest API serves its OpenAPI document, then stops
the whole process group.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""


@pytest.mark.slow
def test_make_dev_starts_ui_and_ingest_api(tmp_path, free_port, process_group):
    dagster_port, ingest_port, analytics_port = free_port(), free_port(), free_port()
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    env = {**os.environ, "DAGSTER_HOME": str(home), "FLEET_DATA_DIR": str(tmp_path / "data"),
           "BIN": str(Path(sys.executable).parent), "DAGSTER_PORT": str(dagster_port),
           "INGEST_PORT": str(ingest_port), "ANALYTICS_PORT": str(analytics_port)}
    for name in ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "SEC_AUTH_TOKEN", "GRAPH_SERVICE_URL", "GRAPH_ENDPOINT"):
        env.pop(name, None)
    with (tmp_path / "dev.log").open("w") as log:
        proc = process_group(["bash", "scripts/dev.sh"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        entries = _wait_for_location(dagster_port, proc, tmp_path / "dev.log")
        assert [e["name"] for e in entries] == ["fleet_assets"]
        assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries
        openapi = httpx.get(f"http://127.0.0.1:{ingest_port}/openapi.json", timeout=5).json()
        assert "/v1/trips" in openapi["paths"]
        # The analytics sandbox serves the embedded backend's store (what runs upload lives there).
        stats = httpx.get(f"http://127.0.0.1:{analytics_port}/stats", timeout=5).json()
        assert stats["stored"] == {"gps": 0, "signal": 0, "dtc": 0, "network_stats": 0}
        assert (tmp_path / "data" / "analytics_sandbox.sqlite").exists()


def _wait_for_location(port: int, proc: subprocess.Popen, log: Path, timeout: float = 120.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"dev.sh exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            reply = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": WORKSPACE_QUERY}, timeout=5)
            entries = reply.json()["data"]["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return entries
            last_error = str(entries)
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            last_error = repr(exc)
        time.sleep(1)
    pytest.fail(f"Dagster UI did not load the code location in {timeout}s ({last_error}):\n{log.read_text()[-3000:]}")
