"""Memory is flat in the day's size: a day 8x larger than one shard peaks about where a one-shard day does.

Each day is generated straight into the raw store as a sharded fetch stores it (the benchmark's generator, in
its own process), then the real chain normalized_motive -> normalized_samsara -> telemetry runs under
``dg.materialize`` in a fresh subprocess whose peak RSS (``ru_maxrss``) is compared. Shards here hold 100k
points (50k per provider). Measured on the 2-core box: 1-shard day of 100k points ~400 MB peak, the 800k day
in 8 shards ~470 MB, the same 800k day unsharded ~990 MB; so the stated margin (150 MB) fails clearly if a
stage holds the day again. The big day's shards run in two worker processes (the default on a multi-core
machine): each worker's peak (``RUSAGE_CHILDREN``) is held to the same margin.
"""

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "pipeline_write.py"
DAY = "2026-02-01"
SHARD_POINTS_PER_PROVIDER = 50_000
MARGIN_MB = 150


def _worker(*argv: str) -> dict:
    env = {**os.environ, "FLEET_SHARD_WORKERS": "2"}
    proc = subprocess.run([sys.executable, str(BENCH), "--day", DAY, *argv], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _peak(tmp_path: Path, rows: int) -> tuple[dict, dict]:
    root = tmp_path / str(rows)
    gen = _worker("--worker", "gen", "--rows", str(rows), "--vehicles", str(rows // 100), "--dir", str(root),
                  "--shard-rows", str(SHARD_POINTS_PER_PROVIDER))
    return gen, _worker("--worker", "asset", "--asset", "all", "--dir", str(root))


@pytest.mark.slow
def test_peak_rss_is_flat_in_the_size_of_the_day(tmp_path):
    # both days at once, each in its own processes (ru_maxrss is per process): the small day costs no wall time
    with ThreadPoolExecutor(2) as pool:
        (small_gen, small), (big_gen, big) = pool.map(lambda rows: _peak(tmp_path, rows), (100_000, 800_000))
    assert (small_gen["shards"], big_gen["shards"]) == (1, 8)
    assert small["checks_passed"] and big["checks_passed"]
    assert big["rows_out"] > 7 * small["rows_out"]
    growth = big["peak_rss_mb"] - small["peak_rss_mb"]
    assert growth < MARGIN_MB, f"8x the day grew peak RSS by {growth:.0f} MB ({small['peak_rss_mb']:.0f} -> {big['peak_rss_mb']:.0f})"
    # The big day's shards ran in worker processes (FLEET_SHARD_WORKERS=2); each is bounded like the in-process day.
    assert small["children_peak_rss_mb"] < 100 < big["children_peak_rss_mb"]  # no workers for one shard, then two
    growth = big["children_peak_rss_mb"] - small["peak_rss_mb"]
    assert growth < MARGIN_MB, f"a worker of the 8x day peaked {growth:.0f} MB above the one-shard day"
