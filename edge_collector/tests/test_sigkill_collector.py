"""SIGKILL of the real collector pipeline (``edge-collector replay``) at random points, then recovery.

The running collector writes ``acked_records`` to its status file only after the
flush that committed them, so after each kill the buffer must hold at least that
many more records than before the run. Every restart must find a consistent
buffer (gap-free seqs per trip, at most one open trip), end the trip the killed
run left open, and in the end export verifiable chunks of every trip.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_collector.buffer import EventBuffer

VIN = "WAUZZZFY0R1234567"
TRIALS = 10


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edge_collector.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def _check_buffer(db: Path) -> int:
    """Integrity and seq invariants; returns the number of stored records."""
    EventBuffer(db).close()  # it must open, whatever the kill interrupted (even its own schema creation)
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        seqs: dict[str, list[int]] = {}
        for trip_id, seq in con.execute("SELECT trip_id, seq FROM events UNION ALL SELECT trip_id, seq FROM dtcs"):
            seqs.setdefault(trip_id, []).append(seq)
        open_trips = con.execute("SELECT COUNT(*) FROM trips WHERE ended_at IS NULL").fetchone()[0]
    for trip_id, values in seqs.items():
        assert sorted(values) == list(range(1, len(values) + 1)), f"trip {trip_id}: seqs not unique and gap-free"
    assert open_trips <= 1
    return sum(len(v) for v in seqs.values())


@pytest.mark.slow
def test_collector_survives_sigkill_and_recovers(tmp_path):
    db, status = tmp_path / "buffer.db", tmp_path / "status.json"
    rng = random.Random(4)
    stored = 0
    hits = 0
    for trial in range(TRIALS):
        status.unlink(missing_ok=True)
        child = _cli("replay", "--db", str(db), "--vin", VIN, "--synthetic", "100000", "--status-file", str(status),
                     "--idle-timeout", "60")
        try:
            if trial % 3 == 0:
                time.sleep(rng.uniform(0.0, 1.0))  # anywhere, start-up included
            else:
                deadline = time.monotonic() + 30
                while not status.exists():
                    assert time.monotonic() < deadline and child.poll() is None, child.stderr.read()
                    time.sleep(0.01)
                time.sleep(rng.uniform(0.0, 2.0))  # flushes happen every second of wall time
            assert child.poll() is None, f"collector exited on its own: {child.stderr.read()}"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=10)
            child.stderr.close()
        acked = 0
        if status.exists():
            report = json.loads(status.read_text())
            if report.get("pid") == child.pid:
                acked = report["acked_records"]
                hits += acked > 0
        if not db.exists():
            assert acked == 0
            continue
        now = _check_buffer(db)
        assert now >= stored + acked, f"trial {trial}: {stored + acked - now} acknowledged records lost"
        stored = now
    assert hits >= TRIALS // 2, "too few kills landed while records were being written"

    # A clean run afterwards ends the trip left open by the last kill and completes normally.
    with EventBuffer(db) as buffer:
        left_open = buffer.open_trip()
    final = subprocess.run([sys.executable, "-m", "edge_collector.cli", "replay", "--db", str(db), "--vin", VIN,
                            "--synthetic", "200"], capture_output=True, text=True, timeout=60)
    assert final.returncode == 0, final.stderr
    _check_buffer(db)
    with EventBuffer(db) as buffer:
        assert buffer.open_trip() is None
        if left_open is not None:
            # resumed if its last record is within the idle timeout of the new run's first fix, else closed
            left = buffer.trip(left_open["trip_id"])
            assert left["ended_at"] is not None
            assert left["meta"]["end_reason"] in ("found open after restart", "end of replay")
        ready = buffer.trips_ready_for_upload()
    out = tmp_path / "export"
    result = subprocess.run([sys.executable, "-m", "edge_collector.cli", "export", "--db", str(db), "--out", str(out)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    manifests = sorted(out.glob("*.manifest.json"))
    assert len(manifests) == len(ready) > 0
    chunks = sorted(out.glob("*.ndjson.gz"))
    subprocess.run(["gzip", "-t", *map(str, chunks)], check=True)
    for manifest_path in manifests:
        manifest = json.loads(manifest_path.read_text())
        sums = "".join(f"{c['sha256']}  {manifest['trip_id']}-{c['no']}.ndjson.gz\n" for c in manifest["chunks"])
        subprocess.run(["sha256sum", "--check", "--quiet", "-"], input=sums, text=True, cwd=out, check=True)
