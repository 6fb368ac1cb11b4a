"""fleet-run-worker and WorkerQueueRunLauncher against the real deployed instance (Postgres): claims are
exclusive, the health check is the claim, and an unreachable database at start-up is one clear line."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid

import dagster as dg
import psycopg
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.launcher.base import WorkerStatus

from fleet_assets.run_worker import RunWorker, WorkerQueueRunLauncher, _try_lock, instance_pg_url


def _starting_run(instance) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name="fleet_job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTING)
    instance.run_storage.add_run(run)
    return run


def test_a_launched_run_is_claimed_by_exactly_one_worker(deployed_instance):
    run = _starting_run(deployed_instance)
    a, b = RunWorker(deployed_instance, name="a"), RunWorker(deployed_instance, name="b")
    with contextlib.closing(psycopg.connect(instance_pg_url(deployed_instance), autocommit=True)) as conn_a, \
            contextlib.closing(psycopg.connect(instance_pg_url(deployed_instance), autocommit=True)) as conn_b:
        with a._claim(conn_a) as claimed:
            assert claimed.run_id == run.run_id
            with b._claim(conn_b) as other:
                assert other is None  # held by a
        deployed_instance.report_run_failed(deployed_instance.get_run_by_id(run.run_id), "done elsewhere")
        with b._claim(conn_b) as later:
            assert later is None  # no longer STARTING: nothing to execute twice


def test_run_health_is_whether_a_live_worker_holds_the_claim(deployed_instance):
    launcher = WorkerQueueRunLauncher(claim_grace_seconds=0)
    launcher.register_instance(deployed_instance)
    run = _starting_run(deployed_instance)
    assert launcher.check_run_worker_health(run).status == WorkerStatus.FAILED  # nobody claimed it
    worker_conn = psycopg.connect(instance_pg_url(deployed_instance), autocommit=True)
    assert _try_lock(worker_conn, run.run_id)
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
    worker_conn.close()  # the worker's machine is gone: Postgres drops its session and its claims
    result = launcher.check_run_worker_health(run)
    assert result.status == WorkerStatus.FAILED and "its worker died" in result.msg


def test_an_unclaimed_run_is_failed_only_after_the_grace(deployed_instance):
    """A database restart drops every claim while the runs go on; their workers take them again within the grace."""
    launcher = WorkerQueueRunLauncher(claim_grace_seconds=1.5)
    launcher.register_instance(deployed_instance)
    run = _starting_run(deployed_instance)
    assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING  # unclaimed since now
    time.sleep(1.6)
    result = launcher.check_run_worker_health(run)
    assert result.status == WorkerStatus.FAILED and "for 2s: its worker died" in result.msg
    with contextlib.closing(psycopg.connect(instance_pg_url(deployed_instance), autocommit=True)) as worker:
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING  # unclaimed again: new grace
        assert _try_lock(worker, run.run_id)  # claimed again in time
        time.sleep(1.6)
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING


def test_unreachable_instance_database_at_start_up_is_one_line(deployed_home, monkeypatch, free_port, tmp_path):
    monkeypatch.setenv("DAGSTER_PG_URL", f"postgresql+psycopg2://fleet:secret@127.0.0.1:{free_port()}/dagster")
    workdir = tmp_path / "work"
    workdir.mkdir()
    result = subprocess.run([sys.executable, "-m", "fleet_assets.run_worker"], capture_output=True, text=True,
                            timeout=120, cwd=workdir)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("fleet-run-worker: cannot load the Dagster instance") and "DAGSTER_PG_URL" in lines[0]
    assert "Connection refused" in lines[0] and "secret" not in result.stderr
    assert list(workdir.iterdir()) == [] and [p.name for p in deployed_home.iterdir()] == ["dagster.yaml"]


def test_an_instance_without_postgres_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    result = subprocess.run([sys.executable, "-m", "fleet_assets.run_worker"], capture_output=True, text=True,
                            timeout=120, cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "does not keep runs in Postgres" in result.stderr and "deploy/dagster.yaml" in result.stderr


def test_terminate_asks_the_worker_to_stop_the_run(deployed_instance):
    launcher = WorkerQueueRunLauncher()
    launcher.register_instance(deployed_instance)
    run = _starting_run(deployed_instance)
    assert launcher.terminate(run.run_id) is True
    assert deployed_instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELING
    deployed_instance.report_run_canceled(deployed_instance.get_run_by_id(run.run_id))
    assert launcher.terminate(run.run_id) is False  # already finished


def test_runs_are_claimed_in_launch_order_not_creation_order(deployed_instance):
    """A retry is created after the backfill's runs but launched before some of them; claimed by creation order
    it waited behind every later-launched run and hit run monitoring's start timeout (found in the two-host test:
    the retry of the killed run failed with 'taking longer than 180 seconds to start')."""
    older, retry = (dg.DagsterRun(job_name="fleet_job", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.NOT_STARTED)
                    for _ in range(2))
    for run in (older, retry):
        deployed_instance.run_storage.add_run(run)
    for run in (retry, older):  # the queue launches the retry first
        deployed_instance.report_dagster_event(
            DagsterEvent(DagsterEventType.RUN_STARTING.value, job_name=run.job_name), run_id=run.run_id)
    assert deployed_instance.get_run_by_id(older.run_id).status == dg.DagsterRunStatus.STARTING
    worker = RunWorker(deployed_instance, name="a")
    with contextlib.closing(psycopg.connect(instance_pg_url(deployed_instance), autocommit=True)) as conn:
        with worker._claim(conn) as claimed:
            assert claimed.run_id == retry.run_id
