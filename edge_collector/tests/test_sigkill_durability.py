"""SIGKILL at random points while a child writes as fast as it can: nothing acknowledged is lost.

The child (``sigkill_writer.py``) reports a batch's seqs only after ``append``
returned, i.e. after COMMIT with ``synchronous=FULL``. After every kill the
buffer must open, pass ``integrity_check``, contain every reported seq, and
keep seqs unique, gap-free and increasing per trip — also across restarts,
because each trial resumes the trip the previous child left open.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from edge_collector.buffer import EventBuffer

WRITER = Path(__file__).with_name("sigkill_writer.py")
TRIALS = 24


def _read_acks(path: Path) -> tuple[dict[str, set[int]], set[str], int]:
    """Complete lines only: a line cut by the kill was never an acknowledgement."""
    acked: dict[str, set[int]] = defaultdict(set)
    ended: set[str] = set()
    readies = 0
    text = path.read_text() if path.exists() else ""
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            continue
        parts = line.split()
        if parts[0] == "ready":
            readies += 1
        elif parts[0] == "ended":
            ended.add(parts[1])
        else:
            acked[parts[0]].update(range(int(parts[1]), int(parts[2]) + 1))
    return acked, ended, readies


def _wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "writer did not start in time"
        time.sleep(0.005)


def _stored(db_path: Path) -> dict[str, list[int]]:
    with sqlite3.connect(db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_trip: dict[str, list[int]] = defaultdict(list)
        for table in ("events", "dtcs"):
            last: dict[str, int] = {}
            for trip_id, seq in db.execute(f"SELECT trip_id, seq FROM {table} ORDER BY rowid"):
                # insertion order == seq order: seqs were never reused or assigned backwards
                assert seq > last.get(trip_id, 0), f"{table}: seq {seq} of trip {trip_id} inserted after a larger one"
                last[trip_id] = seq
                per_trip[trip_id].append(seq)
    return {trip: sorted(seqs) for trip, seqs in per_trip.items()}


def test_sigkill_never_loses_acknowledged_records(tmp_path):
    db_path, ack_path = tmp_path / "buffer.db", tmp_path / "acks.txt"
    rng = random.Random(20251104)
    killed_while_writing = 0
    for trial in range(TRIALS):
        before = _read_acks(ack_path)
        acked_before = sum(len(s) for s in before[0].values())
        child = subprocess.Popen([sys.executable, str(WRITER), str(db_path), str(ack_path), str(trial)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            if trial % 4 == 0:  # anywhere, including interpreter start-up and schema creation
                time.sleep(rng.uniform(0.0, 0.5))
            else:  # somewhere in the write loop
                _wait_for(lambda: _read_acks(ack_path)[2] > before[2], timeout=30)
                time.sleep(rng.uniform(0.0, 0.25))
            assert child.poll() is None, f"writer died on its own: {child.stderr.read().decode()}"
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(timeout=10)
        child.stderr.close()
        assert child.returncode == -signal.SIGKILL

        acked, ended, _ = _read_acks(ack_path)
        if sum(len(s) for s in acked.values()) > acked_before:
            killed_while_writing += 1
        if not db_path.exists():
            assert not acked
            continue
        stored = _stored(db_path)
        for trip_id, seqs in acked.items():
            missing = seqs - set(stored.get(trip_id, []))
            assert not missing, f"trial {trial}: acknowledged seqs lost for trip {trip_id}: {sorted(missing)[:10]}"
        for trip_id, seqs in stored.items():
            assert seqs == list(range(1, len(seqs) + 1)), f"trial {trial}: seqs of {trip_id} not unique and gap-free"
        with EventBuffer(db_path) as buffer:  # the collector can reopen it and carry on
            open_trip = buffer.open_trip()
            assert len([t for t in buffer.trips() if t["ended_at"] is None]) <= 1
            for trip_id in ended:
                assert buffer.trip(trip_id)["ended_at"] is not None
            if open_trip is not None:
                assert open_trip["next_seq"] == len(stored.get(open_trip["trip_id"], [])) + 1

    total_acked = sum(len(s) for s in _read_acks(ack_path)[0].values())
    assert killed_while_writing >= TRIALS // 2, f"only {killed_while_writing} kills hit the write loop"
    assert total_acked > 1000
