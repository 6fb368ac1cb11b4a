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
  health check finds the lock free (for ``claim_grace_seconds``) and fails the run; either way ``run_retries``
  relaunches it;
* a restart of the instance database drops every lock with its session while the runs go on: each worker
  checks its claims every second and takes them again once Postgres is back (the grace above covers that), so a
  healthy run is not failed and retried beside itself; a run failed meanwhile anyway is stopped by its worker.
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
import time
from collections.abc import Iterator

import dagster as dg
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData, serialize_value

log = logging.getLogger("fleet_assets.run_worker")
LOCK_PREFIX = "fleet-run-worker:"  # advisory-lock key = hash of prefix + run id (one key space per database)
PG_URL_SETTING = "DAGSTER_PG_URL (storage.postgres in dagster.yaml)"
# How long a started run may stay unclaimed before run monitoring calls its worker dead: enough for a worker
# to reconnect and re-take its claims after the database restarted (it checks them every second).
CLAIM_GRACE_SECONDS = 15.0


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


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _connect(url: str):
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise RunWorkerError(f"cannot connect to the Dagster instance database ({PG_URL_SETTING}): "
                             f"{_reason(exc)}") from None


def _try_lock(conn, run_id: str) -> bool:
    return conn.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (LOCK_PREFIX + run_id,)).fetchone()[0]


def _unlock(conn, run_id: str) -> None:
    conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (LOCK_PREFIX + run_id,))


class WorkerQueueRunLauncher(RunLauncher, ConfigurableClass):
    """Launch = leave the run STARTING for the first free ``fleet-run-worker``; health = a worker holds its claim.

    In dagster.yaml: ``run_launcher: {module: fleet_assets.run_worker, class: WorkerQueueRunLauncher}``.
    """

    def __init__(self, inst_data: ConfigurableClassData | None = None,
                 claim_grace_seconds: float = CLAIM_GRACE_SECONDS) -> None:
        self._inst_data = inst_data
        self._claim_grace_seconds = claim_grace_seconds
        self._unclaimed_since: dict[str, float] = {}  # run id -> when the monitor first found it unclaimed
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {"claim_grace_seconds": dg.Field(float, is_required=False, default_value=CLAIM_GRACE_SECONDS,
                                                description="seconds a started run may stay unclaimed before "
                                                            "its worker is considered dead")}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: dict) -> "WorkerQueueRunLauncher":
        return cls(inst_data=inst_data, **config_value)

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
                self._unclaimed_since.pop(run.run_id, None)
                return CheckRunHealthResult(WorkerStatus.RUNNING, "a fleet-run-worker holds the run")
            _unlock(conn, run.run_id)
        now = time.monotonic()
        unclaimed = now - self._unclaimed_since.setdefault(run.run_id, now)
        if unclaimed < self._claim_grace_seconds:  # its worker may be re-taking claims a restart dropped
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"no fleet-run-worker holds the run for "
                                                              f"{unclaimed:.0f}s; waiting for its worker")
        self._unclaimed_since.pop(run.run_id, None)
        return CheckRunHealthResult(WorkerStatus.FAILED, f"no fleet-run-worker has held the run for "
                                                         f"{self._claim_grace_seconds:.0f}s: its worker died")


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


class _Claim:
    """The lock on a run this worker executes, on a session of the instance database; ``keep()`` takes it again
    on a new session when the old one is gone (a database restart drops every session and its locks)."""

    def __init__(self, url: str, conn, run_id: str) -> None:
        self.url, self.conn, self.run_id = url, conn, run_id
        self.held = True
        self.lost: str | None = None  # why it was lost, until reported

    def keep(self) -> bool:
        """True if held (again); False while the database is unreachable (try at the next poll)."""
        import psycopg

        try:
            if self.held:
                self.conn.execute("SELECT 1")
                return True
        except psycopg.Error as exc:
            self.lost, self.held = self.lost or _reason(exc), False
        try:
            if self.conn.closed or self.conn.broken:
                self.conn.close()
                self.conn = _connect(self.url)
            self.held = _try_lock(self.conn, self.run_id)  # False only for an instant: a health check's probe
        except (psycopg.Error, RunWorkerError):
            return False
        return self.held

    def release(self) -> None:
        with contextlib.suppress(Exception):
            _unlock(self.conn, self.run_id)


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
                conn = conn if conn is not None and not (conn.closed or conn.broken) else _connect(self._url)
                with self._claim(conn) as run:
                    if run is None:
                        self.stop.wait(self.poll_seconds)
                    else:
                        self._execute(run, _Claim(self._url, conn, run.run_id))
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
                with contextlib.suppress(Exception):  # a lost session has dropped its locks already
                    _unlock(conn, run_id)
        yield None

    def _execute(self, run: dg.DagsterRun, claim: _Claim) -> None:
        args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=None,
                              set_exit_code_on_failure=True)
        cmd = [sys.executable, "-m", "dagster", "api", "execute_run", serialize_value(args)]
        proc = subprocess.Popen(cmd, cwd=self.workdir, start_new_session=True)  # its own group: the run's "pod"
        log.info("fleet-run-worker %s: run %s executing in process %d", self.name, run.run_id, proc.pid)
        self.instance.report_engine_event(f"fleet-run-worker {self.name} executes the run (process {proc.pid})",
                                          run, cls=self.__class__)
        first_conn = claim.conn
        try:
            while not _exited(proc, 1.0):  # a stopping worker still lets its runs finish
                self._watch(run, claim, proc)
        finally:
            with contextlib.suppress(ProcessLookupError):  # whatever the run left behind (its step processes)
                os.killpg(proc.pid, signal.SIGKILL)
            if claim.conn is not first_conn:  # re-taken on a session of its own: give it back
                claim.release()
                claim.conn.close()
        final = self.instance.get_run_by_id(run.run_id)
        how = _describe_exit(proc.returncode)
        log.info("fleet-run-worker %s: run %s process ended with %s (run %s)", self.name, run.run_id, how,
                 final.status.value if final else "gone")
        if final is None or final.is_finished:
            return
        if final.status == dg.DagsterRunStatus.CANCELING:
            self.instance.report_run_canceled(final, f"fleet-run-worker {self.name} stopped the run")
        else:
            lost = f"; {self._lost(claim)}" if claim.lost else ""
            self.instance.report_run_failed(final, f"the run's process on fleet-run-worker {self.name} ended with "
                                                   f"{how} before the run finished{lost}")

    def _lost(self, claim: _Claim) -> str:
        return f"fleet-run-worker {self.name} lost the Dagster instance database ({PG_URL_SETTING}): {claim.lost}"

    def _watch(self, run: dg.DagsterRun, claim: _Claim, proc: subprocess.Popen) -> None:
        """One look at a running run: keep the claim, follow a cancel, stop a run failed while cut off."""
        if not claim.keep():
            return  # the database is away: the run goes on (or fails on its own); look again next second
        try:
            current = self.instance.get_run_by_id(run.run_id)
            if current is None:
                return
            if current.status == dg.DagsterRunStatus.CANCELING:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
            elif claim.lost and current.status == dg.DagsterRunStatus.FAILURE:
                # failed while the claim was away (its process lost the database, or run monitoring found it
                # unclaimed): its retry executes the day, this process must not go on beside it
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                self._tell(current, f"{self._lost(claim)}; the run failed meanwhile: its process is stopped, "
                                    "run retries take over")
            elif claim.lost:  # held again
                self._tell(current, f"{self._lost(claim)}; claim taken again once it was back, the run goes on")
                claim.lost = None
        except Exception as exc:  # the database went away again: look again next second
            log.warning("fleet-run-worker %s: run %s: %s", self.name, run.run_id, _reason(exc))

    def _tell(self, run: dg.DagsterRun, message: str) -> None:
        log.warning("%s (run %s)", message, run.run_id)
        self.instance.report_engine_event(message, run, cls=self.__class__)


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
                        help="idle wait between queue looks (a running run's claim and cancel are checked "
                        "every second; its end is seen at once)")
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
