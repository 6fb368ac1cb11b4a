"""scripts/worker_hosts.py, the loopback deployment the two-host test and the backfill benchmark drive."""

from __future__ import annotations

import subprocess
import sys

from .cluster import worker_hosts


def _alive(proc: subprocess.Popen) -> bool:
    try:
        proc.wait(timeout=1.0)  # a SIGKILL is delivered asynchronously: give it time to land
        return False
    except subprocess.TimeoutExpired:
        return True


def test_stopping_a_host_leaves_a_reused_pid_alone(tmp_path):
    """A host's log names the process of every run it ever executed; their pids are reused on a busy machine (the
    counter wraps within minutes), so stopping a host killed whatever process group then had that id: another
    test's run was SIGKILLed mid-way on this 2-core box. Only runs still executing, in this host's directory, go."""
    host = worker_hosts.Host(tmp_path / "host-0", "host-0", {}, "", slots=1)
    (tmp_path / "elsewhere").mkdir()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=tmp_path / "elsewhere",
                                start_new_session=True)  # another session whose id is an old run's pid
    try:
        host.log.write_text(f"INFO fleet-run-worker host-0: run r1 executing in process {stranger.pid}\n"
                            f"INFO fleet-run-worker host-0: run r1 process ended with exit code 0 (run SUCCESS)\n")
        host.stop()
        assert _alive(stranger), "an unrelated process group was killed"
        host.log.write_text(f"INFO fleet-run-worker host-0: run r2 executing in process {stranger.pid}\n")
        host.stop()  # r2 has not ended, but the process is not in this host's directory: not its run
        assert _alive(stranger), "an unrelated process group was killed"
    finally:
        stranger.kill()
        stranger.wait()
