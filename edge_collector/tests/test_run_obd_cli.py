"""``edge-collector run`` against the third-party ELM327-emulator (batch-mode subprocess on a pty).

The whole live path: background python-OBD handshake, VIN decoded from the raw
mode-09 answer (python-OBD alone would truncate it), stored DTCs read at trip
start (count-byte workaround for emulator 4.0.0), sampled PIDs, the status
file, and a clean stop.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge_collector.buffer import EventBuffer

# The car scenario's VINs, answered in rotation (full 17 characters each).
EMULATOR_VINS = {"WP0ZZZ99ZTS390000", "MAT403096BNL00000", "SB1ZS3JE60E282102"}


@pytest.fixture
def emulator_pty(tmp_path):
    out = tmp_path / "elm.out"
    proc = subprocess.Popen([sys.executable, "-m", "elm", "-s", "car", "-b", str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while not (out.exists() and out.read_text().startswith("/dev/")):
            assert time.monotonic() < deadline and proc.poll() is None, "emulator did not start"
            time.sleep(0.05)
        # Stored DTCs, with the ISO 15765-4 count byte the emulator omits: python-OBD reads P0143 and U0123.
        proc.stdin.write("import elm.obd_message as om; om.DTC_STORED[:] = ['02', '0143', 'C123']\n")
        proc.stdin.flush()
        yield out.read_text().splitlines()[0].strip()
    finally:
        if proc.poll() is None:
            proc.stdin.write("quit\n")
            proc.stdin.flush()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.mark.slow
def test_run_collects_from_the_emulated_car(tmp_path, emulator_pty):
    db, status = tmp_path / "buffer.db", tmp_path / "status.json"
    result = subprocess.run(
        [sys.executable, "-m", "edge_collector.cli", "run", "--obd", emulator_pty, "--db", str(db),
         "--status-file", str(status), "--duration", "9", "--progress-every", "1"],
        capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stderr
    assert "OBD connected" in result.stdout and "stopped:" in result.stdout

    with EventBuffer(db) as buffer:
        (trip,) = buffer.trips()
        assert trip["vin"] in EMULATOR_VINS  # decoded from the raw message: not the truncated 'WP0ZZZ99ZTS39'
        assert buffer.trip(trip["trip_id"])["meta"]["vin_source"] == "obd"
        records = list(buffer.iter_records(trip["trip_id"]))
    events = [r for r in records if r["kind"] == "event"]
    dtcs = {(r["code"], r["status"]) for r in records if r["kind"] == "dtc"}
    assert len(events) >= 2
    assert all(e["rpm"] is not None and e["speed_kph"] is not None and e["coolant_c"] is not None for e in events)
    assert all(e["lat"] is None for e in events)  # no GPS given: no position, never 0.0/0.0
    assert {("P0143", "stored"), ("U0123", "stored")} <= dtcs
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))

    live = json.loads(status.read_text())
    assert live["state"] == "stopped" and live["obd"]["connected"] is True
    assert live["obd"]["status"] == "Car Connected" and live["obd"]["vin"] == trip["vin"]
    assert live["acked_records"] == len(records)
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT COUNT(*) FROM gaps").fetchone()[0] == 0  # the first connect is not a gap
