"""A deployed Dagster on loopback with run workers on several "hosts": what the two-host test and the backfill
benchmark drive.

* the control plane: ONE ``dagster-daemon`` (run queue, backfills, run monitoring, run retries) with its own
  DAGSTER_HOME and working directory, loading the code location from ``fleet_assets.definitions``;
* N run-worker hosts: ``fleet-run-worker`` processes, each with its own DAGSTER_HOME scratch, FLEET_DATA_DIR and
  working directory (nothing shared on disk), claiming the runs the daemon launches from the Postgres instance.

Every process gets the same instance config: deploy/dagster.yaml with the run launcher
``fleet_assets.run_worker.WorkerQueueRunLauncher`` (and, for tests, a faster run-monitoring poll). Services
(Postgres, S3, providers, analytics) are the caller's: pass their environment in ``env``.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY_YAML = REPO / "deploy" / "dagster.yaml"
BIN = Path(sys.executable).parent
TERMINAL_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
RUN_PROCESS = re.compile(r"run (\S+) executing in process (\d+)")
RUN_ENDED = re.compile(r"run (\S+) process ended with")


def instance_yaml(monitor_poll_seconds: int | None = None, shared_budgets: bool = True,
                  dequeue_interval_seconds: int | None = None, max_concurrent_runs: int | None = None) -> str:
    """deploy/dagster.yaml, launching runs for fleet-run-workers.

    ``shared_budgets=False`` (benchmark baseline only): no pool limits and no run limit, so every provider fetch
    believes it owns the provider's whole budget, as before issue 11. ``dequeue_interval_seconds``: the run
    queue's tick (QueuedRunCoordinator's own setting; Dagster's default 5 s). ``max_concurrent_runs``: the
    run limit (deploy/dagster.yaml's 8 if None); set it to the workers' total slots, or launched runs wait
    unclaimed and run monitoring fails them after ``start_timeout_seconds``.
    """
    config = yaml.safe_load(DEPLOY_YAML.read_text())
    config["run_launcher"] = {"module": "fleet_assets.run_worker", "class": "WorkerQueueRunLauncher"}
    if max_concurrent_runs is not None:
        config["concurrency"]["runs"]["max_concurrent_runs"] = max_concurrent_runs
    if not shared_budgets:
        config["concurrency"] = {"runs": {"max_concurrent_runs": -1}}
    if monitor_poll_seconds is not None:
        config["run_monitoring"]["poll_interval_seconds"] = monitor_poll_seconds
    if dequeue_interval_seconds is not None:
        config["run_coordinator"]["config"]["dequeue_interval_seconds"] = dequeue_interval_seconds
    return yaml.safe_dump(config, sort_keys=False)


def _home(root: Path, text: str) -> Path:
    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(text)
    return home


def _start(cmd: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")).resolve()
    except OSError:  # gone (or not ours to read)
        return None


def _kill_group(pid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Host:
    """One run-worker "machine": its own directory tree, a ``fleet-run-worker`` process."""

    def __init__(self, root: Path, name: str, env: dict, yaml_text: str, slots: int) -> None:
        self.root, self.name, self.slots = root, name, slots
        self.home = _home(root, yaml_text)
        self.data_dir = root / "data"
        self.log = root / "worker.log"
        self.env = {**env, "DAGSTER_HOME": str(self.home), "FLEET_DATA_DIR": str(self.data_dir)}
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.proc = _start([str(BIN / "fleet-run-worker"), "--slots", str(self.slots), "--name", self.name,
                            "--poll-seconds", "0.5"], self.root, self.env, self.log)

    def run_processes(self) -> dict[str, int]:
        """run id -> pid of its ``dagster api execute_run`` process (from the worker's log)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return {m.group(1): int(m.group(2)) for m in RUN_PROCESS.finditer(text)}

    def spawn(self, args: list[str], log: Path) -> subprocess.Popen:
        """A command of this host's install (e.g. ``dagster asset materialize ...``) started in its environment
        and working directory, output to ``log``."""
        return _start([str(BIN / args[0]), *args[1:]], self.root, self.env, log)

    def stop(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc.pid)
            self.proc.wait()
            self.proc = None  # stopped on purpose: not a crash
        for pid in self.live_run_processes().values():  # each run is its own process group ("pod")
            _kill_group(pid)

    def live_run_processes(self) -> dict[str, int]:
        """The run processes still executing: not reported ended by the worker, and still in this host's working
        directory (pids are reused: an ended run's pid may by now lead another test's process group)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        ended = set(RUN_ENDED.findall(text))
        return {run_id: pid for run_id, pid in self.run_processes().items()
                if run_id not in ended and _cwd(pid) == self.root.resolve()}


def daemon_command(interval_seconds: int | None = None) -> list[str]:
    """``dagster-daemon run -w workspace.yaml``; ``interval_seconds`` (tests only) shortens the backfill daemon's
    sleep between iterations, a module constant of Dagster (30 s) that no setting reaches. Only that sleep
    changes: the daemon's code is Dagster's own."""
    if interval_seconds is None:
        return [str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"]
    patch = (f"import dagster._daemon.controller as c; c.DEFAULT_DAEMON_INTERVAL_SECONDS = {int(interval_seconds)}; "
             "import sys; sys.argv[0] = 'dagster-daemon'; from dagster._daemon.cli import main; main()")
    return [sys.executable, "-c", patch, "run", "-w", "workspace.yaml"]


class Cluster:
    """The control plane + ``workers`` hosts under ``root``; ``env`` = the services' environment.

    ``daemon_interval_seconds`` and ``max_concurrent_runs``: see :func:`daemon_command` and :func:`instance_yaml`.
    """

    def __init__(self, root: Path, env: dict, workers: int = 2, slots: int = 2,
                 monitor_poll_seconds: int | None = 2, shared_budgets: bool = True,
                 dequeue_interval_seconds: int | None = None, max_concurrent_runs: int | None = None,
                 daemon_interval_seconds: int | None = None) -> None:
        self.root = root
        self.env = dict(env)
        self.daemon_interval_seconds = daemon_interval_seconds
        text = instance_yaml(monitor_poll_seconds, shared_budgets, dequeue_interval_seconds, max_concurrent_runs)
        control = root / "control"
        self.control_home = _home(control, text)
        (control / "workspace.yaml").write_text(
            "load_from:\n  - python_module:\n      module_name: fleet_assets.definitions\n"
            "      location_name: fleet_assets\n")
        self.control = control
        self.daemon_log = control / "daemon.log"
        self.daemon: subprocess.Popen | None = None
        self.hosts = [Host(root / f"host-{i}", f"host-{i}", self.env, text, slots) for i in range(workers)]
        self._instance = None

    def start(self) -> "Cluster":
        self.start_daemon()
        for host in self.hosts:
            host.start()
        return self

    def start_daemon(self) -> None:
        """The control plane's ``dagster-daemon`` (its code server is a child in its process group)."""
        env = {**self.env, "DAGSTER_HOME": str(self.control_home), "FLEET_DATA_DIR": str(self.control / "data")}
        self.daemon = _start(daemon_command(self.daemon_interval_seconds), self.control, env, self.daemon_log)

    def kill_daemon(self) -> None:
        """The control machine crashes: SIGKILL the daemon's process group (daemon + its code server)."""
        if self.daemon is not None:
            _kill_group(self.daemon.pid)
            self.daemon.wait()
            self.daemon = None

    @property
    def instance(self):
        from dagster import DagsterInstance

        if self._instance is None:
            self._instance = DagsterInstance.from_config(str(self.control_home))
        return self._instance

    def stop_sensor(self, name: str) -> None:
        """Turn a sensor off as `dagster sensor stop` does (its stored state STOPPED); before ``start()`` it never
        ticks, whatever its default status."""
        from dagster._core.definitions.run_request import InstigatorType
        from dagster._core.definitions.sensor_definition import SensorType
        from dagster._core.remote_origin import RemoteRepositoryOrigin
        from dagster._core.scheduler.instigation import InstigatorState, InstigatorStatus, SensorInstigatorData
        from dagster._core.workspace.load import location_origins_from_yaml_paths

        (location,) = location_origins_from_yaml_paths([str(self.control / "workspace.yaml")])
        origin = RemoteRepositoryOrigin(location, "__repository__").get_instigator_origin(name)
        self.instance.add_instigator_state(InstigatorState(
            origin, InstigatorType.SENSOR, InstigatorStatus.STOPPED,
            SensorInstigatorData(min_interval=30, sensor_type=SensorType.STANDARD)))

    def set_pool(self, pool: str, limit: int) -> None:
        self.instance.event_log_storage.set_concurrency_slots(pool, limit)

    def launch_backfill(self, asset_names: list[str], days: list[str]) -> str:
        """An asset backfill, as the UI's "Materialize → partitions" creates it; the daemon runs it."""
        from dagster import AssetKey
        from dagster._core.execution.backfill import PartitionBackfill

        from fleet_assets.definitions import defs

        backfill_id = uuid.uuid4().hex[:8]
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=backfill_id, asset_graph=defs.resolve_asset_graph(), partition_names=days,
            asset_selection=[AssetKey(n) for n in asset_names], backfill_timestamp=time.time(), tags={},
            dynamic_partitions_store=self.instance, all_partitions=False, title=None, description=None,
            run_config=None)
        self.instance.add_backfill(backfill)
        return backfill_id

    def backfill_runs(self, backfill_id: str) -> list:
        from dagster import RunsFilter

        return list(self.instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id})))

    def wait_for_backfill(self, backfill_id: str, timeout: float, on_poll=None) -> tuple[str, list]:
        """(backfill status, its runs) once it and all its runs are done; RuntimeError with a summary at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            status = self.instance.get_backfill(backfill_id).status.value
            runs = self.backfill_runs(backfill_id)
            if on_poll is not None:
                on_poll(runs)
            if status.startswith(("COMPLETED", "FAILED", "CANCELED")) and all(
                    r.status.value in TERMINAL_RUN for r in runs):
                return status, runs
            if time.monotonic() > deadline:
                raise RuntimeError(f"backfill {backfill_id} still {status} after {timeout:.0f}s: "
                                   f"{self.summary(runs)}\n{self.logs_tail()}")
            time.sleep(1.0)

    @staticmethod
    def summary(runs: list) -> str:
        return ", ".join(sorted(f"{r.tags.get('dagster/partition', '-')}:{r.status.value}" for r in runs))

    def run_hosts(self) -> dict[str, str]:
        """run id -> the host that executed it."""
        return {run_id: host.name for host in self.hosts for run_id in host.run_processes()}

    def check_alive(self) -> None:
        for name, proc in [("dagster-daemon", self.daemon), *((h.name, h.proc) for h in self.hosts)]:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.logs_tail()}")

    def logs_tail(self, chars: int = 2500) -> str:
        logs = [self.daemon_log, *(h.log for h in self.hosts)]
        return "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-chars:]}" for p in logs if p.exists())

    def stop(self) -> None:
        for host in self.hosts:
            host.stop()
        if self.daemon is not None:
            _kill_group(self.daemon.pid, signal.SIGTERM)
            try:
                self.daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                _kill_group(self.daemon.pid)
                self.daemon.wait()
        if self._instance is not None:
            self._instance.dispose()
