"""Run workers on any machine without Kubernetes: ``WorkerQueueRunLauncher`` + the ``fleet-run-worker`` command.

On Kubernetes, ``K8sRunLauncher`` hands each launched run to the cluster, which starts
``dagster api execute_run`` in a pod on whichever node has room. This is the same split for VMs or bare
Docker hosts: the daemon's run queue launches a run by leaving it STARTING in the instance's Postgres
database, and every ``fleet-run-worker`` (one per machine, any number of machines) claims launched runs
and executes each with ``dagster api execute_run`` in its own environment (its DAGSTER_HOME scratch, its
FLEET_DATA_DIR, its credentials). Nothing comes from the launching machine: data and state live in
FLEET_STORAGE_URL / FLEET_STATE_URL, the code is the worker's own install.

A claim is a session advisory lock in the instance database, held while the run executes:
* two workers never execute the same run (non-blocking lock, then the run's status is re-read);
* a run process that dies under a live worker is reported failed by that worker at once;
* a worker that dies with its machine releases its locks with its connection, and run monitoring's
  health check finds the lock free and fails the run; either way ``run_retries`` relaunches it.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import dagster as dg
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

log = logging.getLogger("fleet_assets.run_worker")
LOCK_PREFIX = "fleet-run-worker:"  # advisory-lock key = hash of prefix + run id (one key space per database)
PG_URL_SETTING = "DAGSTER_PG_URL (storage.postgres in dagster.yaml)"


class RunWorkerError(Exception):
    """A setting or service problem, told in one line."""


def instance_pg_url(instance: dg.DagsterInstance) -> str:
    """The instance database as a psycopg 3 URL; run workers need the Postgres instance storage."""
    url = getattr(instance.run_storage, "postgres_url", None)
    if not url:
        raise RunWorkerError(f"the Dagster instance at {instance.root_directory} does not keep runs in Postgres; "
                             "run workers need deploy/dagster.yaml (storage: postgres) in DAGSTER_HOME")
    scheme, sep, rest = url.partition("://")
    return ("postgresql" + sep + rest) if scheme.startswith("postgres") else url


def _connect(url: str):
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise RunWorkerError(f"cannot connect to the Dagster instance database ({PG_URL_SETTING}): "
                             f"{str(exc).strip().splitlines()[0]}") from None


def _try_lock(conn, run_id: str) -> bool:
    return conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (LOCK_PREFIX + run_id,)).fetchone()[0]


def _unlock(conn, run_id: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (LOCK_PREFIX + run_id,))


class WorkerQueueRunLauncher(RunLauncher, ConfigurableClass):
    """Launch = leave the run STARTING for the first free ``fleet-run-worker``; health = a worker holds its claim.

    In dagster.yaml: ``run_launcher: {module: fleet_assets.run_worker, class: WorkerQueueRunLauncher}``.
    """

    def __init__(self, inst_data: ConfigurableClassData | None = None) -> None:
        self._inst_data = inst_data
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict) -> "WorkerQueueRunLauncher":
        return cls(inst_data=inst_data)

    def launch_run(self, context: LaunchRunContext) -> None:
        self._instance.report_engine_event("Waiting for a fleet-run-worker to claim the run", context.dagster_run,
                                           cls=self.__class__)

    def terminate(self, run_id: str) -> bool:
        """Ask the worker executing the run to stop it (it watches for CANCELING)."""
        run = self._instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return False
        self._instance.report_run_canceling(run)
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: dg.DagsterRun) -> CheckRunHealthResult:
        with contextlib.closing(_connect(instance_pg_url(self._instance))) as conn:
            if not _try_lock(conn, run.run_id):
                return CheckRunHealthResult(WorkerStatus.RUNNING, "a fleet-run-worker holds the run")
            _unlock(conn, run.run_id)
        return CheckRunHealthResult(WorkerStatus.FAILED, "no fleet-run-worker holds the run: its worker died")


def _exited(proc: subprocess.Popen, seconds: float) -> bool:
    """Wait up to ``seconds`` for ``proc``; True as soon as it ended (the slot is free for the next run at once)."""
    try:
        proc.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        return False


def _describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


class RunWorker:
    """Claims launched runs of ``instance`` and executes up to ``slots`` of them at once, each in a subprocess."""

    def __init__(self, instance: dg.DagsterInstance, slots: int = 1, poll_seconds: float = 1.0,
                 name: str | None = None, workdir: str | None = None) -> None:
        self.instance = instance
        self.slots = slots
        self.poll_seconds = poll_seconds
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self.workdir = workdir
        self.stop = threading.Event()
        self._url = instance_pg_url(instance)
        _connect(self._url).close()  # fail at start-up, in one line, if the database is unreachable

    def serve(self) -> None:
        threads = [threading.Thread(target=self._slot, name=f"slot-{i}", daemon=True) for i in range(self.slots)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _slot(self) -> None:
        conn = None
        while not self.stop.is_set():
            try:
                conn = conn if conn is not None and not conn.closed else _connect(self._url)
                with self._claim(conn) as run:
                    if run is None:
                        self.stop.wait(self.poll_seconds)
                    else:
                        self._execute(run)
            except Exception:  # a lost database connection must not end the worker: reconnect and go on
                log.exception("fleet-run-worker %s: slot error; retrying", self.name)
                with contextlib.suppress(Exception):
                    conn.close()
                conn = None
                self.stop.wait(self.poll_seconds)

    @contextlib.contextmanager
    def _claim(self, conn) -> Iterator[dg.DagsterRun | None]:
        """The run launched longest ago that no other worker holds, locked for as long as the block runs.

        Launch order (the run row's last status change), not creation order: a retry is created after the
        backfill's runs but launched before some of them, and must not wait behind them into run monitoring's
        start timeout.
        """
        starting = self.instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING]),
                                                 limit=20, order_by="update_timestamp", ascending=True)
        for record in starting:
            run_id = record.dagster_run.run_id
            if not _try_lock(conn, run_id):
                continue
            try:
                run = self.instance.get_run_by_id(run_id)  # re-read under the lock: another worker may be done
                if run is not None and run.status == dg.DagsterRunStatus.STARTING:
                    yield run
                    return
            finally:
                _unlock(conn, run_id)
        yield None

    def _execute(self, run: dg.DagsterRun) -> None:
        args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=None,
                              set_exit_code_on_failure=True)
        cmd = [sys.executable, "-m", "dagster", "api", "execute_run", serialize_value(args)]
        proc = subprocess.Popen(cmd, cwd=self.workdir, start_new_session=True)  # its own group: the run's "pod"
        log.info("fleet-run-worker %s: run %s executing in process %d", self.name, run.run_id, proc.pid)
        self.instance.report_engine_event(f"fleet-run-worker {self.name} executes the run (process {proc.pid})",
                                          run, cls=self.__class__)
        while not _exited(proc, self.poll_seconds):  # a stopping worker still lets its runs finish
            current = self.instance.get_run_by_id(run.run_id)
            if current is not None and current.status == dg.DagsterRunStatus.CANCELING:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
        with contextlib.suppress(ProcessLookupError):  # whatever the run left behind (its step processes)
            os.killpg(proc.pid, signal.SIGKILL)
        final = self.instance.get_run_by_id(run.run_id)
        how = _describe_exit(proc.returncode)
        log.info("fleet-run-worker %s: run %s process ended with %s (run %s)", self.name, run.run_id, how,
                 final.status.value if final else "gone")
        if final is None or final.is_finished:
            return
        if final.status == dg.DagsterRunStatus.CANCELING:
            self.instance.report_run_canceled(final, f"fleet-run-worker {self.name} stopped the run")
        else:
            self.instance.report_run_failed(final, f"the run's process on fleet-run-worker {self.name} ended with "
                                                   f"{how} before the run finished")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Dagster's own start-up chatter (connection retries with tracebacks, warnings) off: one line is ours."""
    import warnings

    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)


def _first_line(exc: BaseException) -> str:
    """The message of the innermost cause (e.g. the driver's 'connection refused'), first line only."""
    while exc.__cause__ is not None or (exc.__context__ is not None and not exc.__suppress_context__):
        exc = exc.__cause__ or exc.__context__
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleet-run-worker", description="Execute runs launched by a Dagster instance whose dagster.yaml sets "
        "run_launcher fleet_assets.run_worker.WorkerQueueRunLauncher; run one per machine, any number of machines. "
        "The instance comes from DAGSTER_HOME (deploy/dagster.yaml with DAGSTER_PG_URL).")
    parser.add_argument("--slots", type=int, default=1, help="runs executed at once (default %(default)s)")
    parser.add_argument("--poll-seconds", type=float, default=1.0,
                        help="idle wait between queue looks and between cancel checks of a running run "
                        "(a run's end is seen at once)")
    parser.add_argument("--name", default=None, help="worker name in run logs (default host:pid)")
    parser.add_argument("--workdir", default=None, help="working directory of run processes (default: here)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.slots < 1 or args.poll_seconds <= 0:
        parser.error("--slots must be >= 1 and --poll-seconds > 0")
    handler = logging.StreamHandler()  # our lines only: not the root logger (alembic etc. stay quiet)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    try:
        with _quiet():
            instance = dg.DagsterInstance.get()
    except Exception as exc:  # Dagster's own reasons: DAGSTER_HOME unset, bad yaml, Postgres unreachable
        print(f"fleet-run-worker: cannot load the Dagster instance (DAGSTER_HOME, {PG_URL_SETTING}): "
              f"{_first_line(exc)}", file=sys.stderr)
        return 2
    try:
        worker = RunWorker(instance, args.slots, args.poll_seconds, args.name, args.workdir)
    except RunWorkerError as exc:
        print(f"fleet-run-worker: {exc}", file=sys.stderr)
        return 2
    for sig in (signal.SIGTERM, signal.SIGINT):  # stop claiming; runs in progress finish first
        signal.signal(sig, lambda *_: worker.stop.set())
    log.info("fleet-run-worker %s: %d slot(s), instance %s", worker.name, args.slots, instance.root_directory)
    worker.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
