"""SIGKILL while a partition is being replaced: the previous partition survives intact."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pyarrow.parquet as pq

from fleet_assets.storage.parquet_partitions import PART_FILE, partition_dir, write_partition

WRITER = textwrap.dedent(
    """
    import sys, numpy as np, pyarrow as pa
    from fleet_assets.storage.parquet_partitions import write_partition
    n = 3_000_000
    rng = np.random.default_rng(0)
    table = pa.table({"x": rng.random(n), "y": rng.random(n), "s": pa.array(rng.integers(0, 10**9, n).astype(str))})
    print("ready", flush=True)
    while True:
        write_partition(sys.argv[1], "2026-01-01", table)
    """
)


def test_sigkill_during_write_keeps_previous_partition(tmp_path, make_rows):
    root = tmp_path / "telemetry"
    before = make_rows("2026-01-01", 7)
    write_partition(root, "2026-01-01", before)
    target_dir = partition_dir(root, "2026-01-01")
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not any(p.name.endswith(".tmp") for p in target_dir.iterdir()):
            assert time.monotonic() < deadline, "writer never started a temp file"
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # Killed while the first replacement was still a temp file: the old partition must be untouched,
    # and the orphaned temp file is invisible to *.parquet globs.
    assert pq.read_table(target_dir / PART_FILE).equals(before)
    assert [p.name for p in target_dir.glob("*.parquet")] == [PART_FILE]
