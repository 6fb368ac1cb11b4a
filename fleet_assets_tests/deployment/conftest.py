"""A real deployment, started exactly as `make dev` starts it, for tests that drive it like a user.

`scripts/dev.sh` (what `make dev` runs) on free loopback ports, with a temp
DAGSTER_HOME (dev.sh copies the repository's config/dagster.yaml into it) and a
temp FLEET_DATA_DIR: the Dagster webserver, the daemon (run queue, backfills,
sensors) and the trip ingest API. Tests talk to it only through its HTTP/GraphQL
APIs, as the UI does. One deployment per test session (it takes ~30 s to start);
FLEET_PARTITIONS_START=2017-01-01 so old history can be backfilled too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PARTITIONS_START = "2017-01-01"
TERMINAL_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}

WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }
"""
# What the UI's "Materialize → partitions" dialog sends for an asset backfill.
LAUNCH_BACKFILL = """
mutation LaunchPartitionBackfill($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on Error { message }
    ... on PythonError { stack }
  }
}
"""
BACKFILL_STATUS = """
query Backfill($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill {
      status numPartitions
      runs { runId status tags { key value } stepStats { stepKey status } }
      error { message }
    }
    ... on Error { message }
  }
}
"""


@dataclass
class Deployment:
    proc: subprocess.Popen
    dagster_port: int
    ingest_port: int
    analytics_port: int
    home: Path
    data_dir: Path
    log: Path
    startup_output: str = ""

    def graphql(self, query: str, variables: dict | None = None, timeout: float = 30.0) -> dict:
        reply = httpx.post(f"http://127.0.0.1:{self.dagster_port}/graphql",
                           json={"query": query, "variables": variables or {}}, timeout=timeout)
        reply.raise_for_status()
        body = reply.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    def launch_backfill(self, assets: list[str], partitions: list[str]) -> str:
        params = {"assetSelection": [{"path": [name]} for name in assets], "partitionNames": partitions,
                  "fromFailure": False, "tags": []}
        result = self.graphql(LAUNCH_BACKFILL, {"backfillParams": params})["launchPartitionBackfill"]
        assert result["__typename"] == "LaunchBackfillSuccess", result
        return result["backfillId"]

    def wait_for_backfill(self, backfill_id: str, timeout: float) -> dict:
        """The backfill once it and all its runs have finished; fails with what is still open at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            backfill = self.graphql(BACKFILL_STATUS, {"id": backfill_id})["partitionBackfillOrError"]
            assert backfill["__typename"] == "PartitionBackfill", backfill
            runs = backfill["runs"]
            if backfill["status"] in TERMINAL_BACKFILL and all(r["status"] in TERMINAL_RUN for r in runs):
                return backfill
            if time.monotonic() > deadline:
                pytest.fail(f"backfill {backfill_id} still {backfill['status']} after {timeout:.0f}s: "
                            f"{_summarize(runs)}\n{self.log_tail()}")
            time.sleep(1)  # one cheap GraphQL read; the daemon's 30 s ticks set the pace, not this poll

    summarize = staticmethod(lambda runs: _summarize(runs))

    def check_alive(self) -> None:
        if self.proc.poll() is not None:
            pytest.fail(f"dev.sh exited with {self.proc.returncode}:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def wait_for_location(self, timeout: float = 180.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                entries = self.graphql(WORKSPACE_QUERY, timeout=5)["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    return entries
                last_error = str(entries)
            except (httpx.HTTPError, KeyError, ValueError, AssertionError) as exc:
                last_error = repr(exc)
            time.sleep(1)
        pytest.fail(f"Dagster UI did not load the code location in {timeout}s ({last_error}):\n{self.log_tail()}")


def _summarize(runs: list[dict]) -> str:
    """One line per run: partition, status and failed steps."""
    rows = []
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["tags"]}
        failed = [s["stepKey"] for s in run.get("stepStats") or [] if s["status"] == "FAILURE"]
        rows.append(f"{tags.get('dagster/partition')}:{run['status']}" + (f" failed steps {failed}" if failed else ""))
    return ", ".join(sorted(rows))


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@pytest.fixture(scope="session")
def deployment(tmp_path_factory, free_port):
    root = tmp_path_factory.mktemp("deployment")
    dep = Deployment(proc=None, dagster_port=free_port(), ingest_port=free_port(), analytics_port=free_port(), home=root / "dagster_home",
                     data_dir=root / "data", log=root / "dev.log")
    env = {**os.environ, "DAGSTER_HOME": str(dep.home), "FLEET_DATA_DIR": str(dep.data_dir),
           "BIN": str(Path(sys.executable).parent), "DAGSTER_PORT": str(dep.dagster_port),
           "INGEST_PORT": str(dep.ingest_port), "ANALYTICS_PORT": str(dep.analytics_port),
           "FLEET_PARTITIONS_START": PARTITIONS_START}
    for name in ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "SEC_AUTH_TOKEN", "GRAPH_SERVICE_URL", "GRAPH_ENDPOINT"):
        env.pop(name, None)
    with dep.log.open("w") as log:
        dep.proc = subprocess.Popen(["bash", "scripts/dev.sh"], cwd=REPO, env=env, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
    try:
        dep.wait_for_location()
        dep.startup_output = dep.log.read_text(errors="replace")
        yield dep
    finally:
        stop(dep.proc)
