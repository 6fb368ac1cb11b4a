"""SIGKILL the uploader right after the backend committed a batch, then re-run (real processes, loopback HTTP),
with the ledger in the DuckDB file and (issue 10) in a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fleet_assets.analytics.day_shards import stored_day
from fleet_assets.analytics.ledger import UploadLedger
from fleet_assets.analytics.sandbox import AnalyticsSandbox, FaultPlan, serve_in_thread
from fleet_assets.analytics.sender import GraphQLSender
from fleet_assets.analytics.upload_report import UploadReport
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.uploader import PartitionUploader

DAY = "2025-06-01"
MAX_POINTS = 250
KILL_AFTER_COMMITS = 6
IN_FLIGHT = UploadSettings().max_in_flight  # the CLI's default window


# The client's timeout sits below the injected hang (so a hang is a timeout) but well above a loaded machine's
# slowest real answer: a legitimate request that outlived it would be committed and re-sent, a duplicate the
# kill did not cause (seen at 0.3 s under a load average of 8).
TIMEOUT_S, HANG_S = 1.0, 1.5


ONE_SHARD = UploadSettings().shard_rows
SHARD_ROWS = 400  # the synthetic day is ~2,000 rows: several shards


def _cli(url: str, data_dir: Path, shard_rows: int) -> list[str]:
    return [sys.executable, "-m", "fleet_assets.analytics.cli", "--date", DAY, "--endpoint", url,
            "--data-dir", str(data_dir), "--max-points", str(MAX_POINTS), "--backoff", "0.01", "--timeout", str(TIMEOUT_S),
            "--max-attempts", "10", "--shard-rows", str(shard_rows), "--json", "-q"]


@pytest.mark.parametrize("faults,ledger_store,shard_rows", [
    pytest.param(FaultPlan(), "embedded", ONE_SHARD, id="no-faults-embedded"),
    pytest.param(FaultPlan.uniform(0.2, seed=4, hang_seconds=HANG_S), "embedded", ONE_SHARD, id="20pct-faults-embedded"),
    pytest.param(FaultPlan(), "postgres", ONE_SHARD, id="no-faults-postgres"),  # the CLI child inherits FLEET_STATE_URL
    # A day larger than one shard: sent shard by shard (whole vehicles each), killed mid-day, resumed.
    pytest.param(FaultPlan(), "embedded", SHARD_ROWS, id="sharded-day-embedded"),
], indirect=["ledger_store"])
def test_sigkill_after_commit_then_rerun_delivers_exactly_the_partition(day, storage, write_day, faults,
                                                                        ledger_store, shard_rows):
    write_day(day)
    with stored_day(storage.dataset, DAY, shard_rows) as shards:
        assert (len(shards) > 1) == (shard_rows == SHARD_ROWS)
    backend = AnalyticsSandbox(faults)
    child: dict[str, subprocess.Popen] = {}
    killed_batch_points: list[int] = []

    def kill_after(kind: str, points: int) -> None:
        if kind != "network_stats" and sum(backend.points_received.values()) and not killed_batch_points:
            if sum(backend.requests[f] for f in ("upsertGpsData", "upsertSignalData")) >= KILL_AFTER_COMMITS:
                killed_batch_points.append(points)
                os.kill(child["p"].pid, signal.SIGKILL)  # committed, the client never hears back

    backend.on_commit = kill_after
    with serve_in_thread(backend) as url:
        child["p"] = subprocess.Popen(_cli(url, storage.root, shard_rows), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        child["p"].communicate(timeout=60)
        assert child["p"].returncode == -signal.SIGKILL

        ledger = ledger_store(url)
        acked_before = ledger.completed_batch_ids(DAY)
        stored_mid = sum(backend.stored_counts().values())
        assert 0 < len(acked_before) and stored_mid < sum(day.expected.values())
        # The batches in flight were committed but not recorded: the backend is ahead of the ledger by at
        # least the one that triggered the kill, and by at most the window of outstanding requests.
        unrecorded = stored_mid - ledger.position(DAY).acked_records
        assert killed_batch_points[0] <= unrecorded <= IN_FLIGHT * MAX_POINTS

        backend.on_commit = None
        rerun = subprocess.run(_cli(url, storage.root, shard_rows), capture_output=True, text=True, timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        acked_after = ledger.completed_batch_ids(DAY)

        # The full plan, recomputed against a fresh ledger (same backend, so the same ids), on the same shards.
        with tempfile.TemporaryDirectory() as tmp, GraphQLSender(url) as sender, \
                stored_day(storage.dataset, DAY, shard_rows) as shards:
            fresh = PartitionUploader(sender, UploadLedger(Path(tmp) / "l.duckdb", url),
                                      UploadSettings(max_points_per_request=MAX_POINTS))
            fresh.ledger.ensure()
            plan = fresh.plan(DAY, shards, report=UploadReport(partition_key=DAY, endpoint=url))
        planned = {b.batch_id for batches in plan.values() for b in batches}

    assert backend.stored_counts() == day.expected  # nothing lost
    assert acked_after == planned  # every planned batch acknowledged, under its deterministic id
    assert acked_before < acked_after  # the second run sent exactly the rest...
    duplicates = sum(backend.duplicate_deliveries.values())
    committed_then_failed = backend.faults_injected.get("commit_then_500", 0)
    if not committed_then_failed:
        assert duplicates == unrecorded  # ...and only the committed-but-unrecorded batches twice
    else:  # each commit-then-500 is the same window as the kill: one batch re-delivered, absorbed by upsert
        assert unrecorded <= duplicates <= unrecorded + committed_then_failed * MAX_POINTS

