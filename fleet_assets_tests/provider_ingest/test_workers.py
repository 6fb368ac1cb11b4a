"""Worker processes never outlive their caller, even one killed with SIGKILL mid-day."""

import os
import signal
import subprocess
import sys
import time

import psutil

CALLER = """
import sys, time
from fleet_assets.provider_ingest.workers import ordered_map

if __name__ == "__main__":
    results = ordered_map(time.sleep, [0.2] * 3 + [60.0] * 3, 2)
    next(results)  # the pool is up and busy
    print("running", flush=True)
    time.sleep(60)
"""


def test_workers_exit_when_their_caller_is_killed(tmp_path):
    script = tmp_path / "caller.py"
    script.write_text(CALLER)
    caller = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert caller.stdout.readline().strip() == "running"
        workers = [p for p in psutil.Process(caller.pid).children() if "multiprocessing" in " ".join(p.cmdline())]
        assert len(workers) >= 2, [p.cmdline() for p in psutil.Process(caller.pid).children()]
    finally:
        os.kill(caller.pid, signal.SIGKILL)
        caller.wait()
    deadline = time.monotonic() + 10
    while any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    alive = [p.pid for p in workers if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, f"orphaned workers still running: {alive}"
