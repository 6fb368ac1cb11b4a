"""`make dev` (scripts/dev.sh) really starts the platform on embedded defaults.

Starts the same script the Makefile runs, on free loopback ports and a temp
DAGSTER_HOME / data dir, waits until the Dagster webserver reports the code
location as loaded and the ingest API serves its OpenAPI document, then stops
the whole process group.
"""

import os
import signal
import socket
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_make_dev_starts_ui_and_ingest_api(tmp_path):
    dagster_port, ingest_port = _free_port(), _free_port()
    home = tmp_path / "dagster_home"  # dev.sh creates it and copies config/dagster.yaml into it
    env = {**os.environ, "DAGSTER_HOME": str(home), "FLEET_DATA_DIR": str(tmp_path / "data"),
           "BIN": str(Path(sys.executable).parent), "DAGSTER_PORT": str(dagster_port),
           "INGEST_PORT": str(ingest_port)}
    for name in ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "SEC_AUTH_TOKEN"):
        env.pop(name, None)
    log = (tmp_path / "dev.log").open("w")
    proc = subprocess.Popen(["bash", "scripts/dev.sh"], cwd=REPO, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        entries = _wait_for_location(dagster_port, proc, tmp_path / "dev.log")
        assert [e["name"] for e in entries] == ["fleet_assets"]
        assert entries[0]["locationOrLoadError"]["__typename"] == "RepositoryLocation", entries
        openapi = httpx.get(f"http://127.0.0.1:{ingest_port}/openapi.json", timeout=5).json()
        assert "/v1/trips" in openapi["paths"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


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
