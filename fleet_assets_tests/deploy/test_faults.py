"""Faults of a deployed platform, against the real services (issue 11, "Bad input and faults").

A real ``dagster-daemon`` and ``fleet-run-worker`` (scripts/worker_hosts.py), moto S3 for the data, providers
and analytics served by their HTTP sandboxes; the database that fails is a PostgreSQL server of the test's own,
crashed (immediate stop) and started again:

* the instance database (DAGSTER_PG_URL) crashed mid-run: the day lands once, the run's log says why;
* the platform state (FLEET_STATE_URL) crashed mid-backfill, then the daemon SIGKILLed with a day still queued and
  restarted while the state is still down: the failed day is retried, the backfill completes, once per day,
  equal to a clean run;
* fleet-ingest-server started with the state database down: one line, exit 2.
(fleet-run-worker with its database down at start-up: test_run_worker.py.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest

from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.analytics.sandbox.app import serve_in_thread as serve_analytics
from fleet_assets.analytics.sandbox.backend import AnalyticsSandbox
from fleet_assets.definitions import defs
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.warehouse.resources import FleetStorage

from ..storage.digests import output_digests
from .cluster import new_database, worker_hosts

SANDBOX = SandboxConfig(motive_vehicles=3, samsara_vehicles=0, interval_s=3600, latency_ms=50)
PIPELINE = ["raw_motive", "normalized_motive", "telemetry", "analytics_upload"]  # one provider: enough here
DATASETS, PROVIDERS = ("normalized_motive", "telemetry"), ("motive",)
LOADED = "are valid. Continuing execution"  # the backfill daemon resolved the backfill's assets in the location



class OwnPostgres:
    """A PostgreSQL server of this test alone (its own data dir), so it can crash: ``crash()`` is
    ``pg_ctl stop -m immediate`` (every backend killed, no shutdown checkpoint, as a power loss), ``start()``
    brings it back on the same socket with its data (crash recovery)."""

    def __init__(self, data_dir: Path) -> None:
        import pgserver

        self.server = pgserver.get_server(data_dir, cleanup_mode="stop")
        self.admin = self.server.get_uri()

    def crash(self) -> None:
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.server.pgdata, user=self.server.system_user)

    def start(self) -> None:
        with self.server._lock:
            self.server.ensure_postgres_running()
        assert self.server.get_uri() == self.admin

    def stop(self) -> None:
        self.server.cleanup()
        shutil.rmtree(self.server.pgdata, ignore_errors=True)


def _with_password(url: str, password: str) -> str:
    """``postgresql://postgres:@/db?host=…`` with a password (the test server trusts local users and ignores
    it; a deployment's URL holds one, and no message may show it)."""
    return url.replace("postgres:@", f"postgres:{password}@", 1)



def _services_env(providers: str, **extra: str) -> dict:
    return {**os.environ, "MOTIVE_API_KEY": SANDBOX.motive_api_key, "MOTIVE_BASE_URL": providers,
            "SAMSARA_API_TOKEN": SANDBOX.samsara_api_token, "SAMSARA_BASE_URL": providers, **extra}


def _materializations(instance, asset: str) -> list[str]:
    """The partition of every materialization event of ``asset`` (one per successful write)."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    return sorted(r.partition_key for r in records)


def _reference(root: Path, assets: list[str], days: list[str]) -> tuple[dict, dict]:
    """The same days materialized in-process on the embedded defaults from an identical sandbox: what a clean
    run gives (dataset digests, ledger acks per day and kind)."""
    storage = FleetStorage(data_dir=str(root))
    with serve_in_thread(SANDBOX) as url:
        resources = {**defs.resources, "storage": storage, "analytics": AnalyticsResource(),
                     "motive": MotiveResource(api_key=SANDBOX.motive_api_key, base_url=url),
                     "samsara": SamsaraResource(api_key=SANDBOX.samsara_api_token, base_url=url)}
        for day in days:
            assert dg.materialize([defs.get_assets_def(dg.AssetKey(n)) for n in assets], partition_key=day,
                                  resources=resources).success, day
    with duckdb.connect(str(storage.ledger_path), read_only=True) as con:
        acks = {(p, k): n for p, k, n in con.execute(
            "SELECT partition_key, kind, count(*) FROM upload_records GROUP BY ALL").fetchall()}
    return output_digests(storage, days, DATASETS, PROVIDERS), acks


def _step_failures(instance, run_id: str) -> list[str]:
    """Each failed step's own error text (a dg.Failure's description, else the error message)."""
    texts = []
    for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE):
        data = e.dagster_event.step_failure_data
        texts.append(data.user_failure_data.description if data.user_failure_data else data.error.message)
    return texts


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_state_database_and_daemon_crash_mid_backfill_it_completes_once(tmp_path, postgres_server,
                                                                        s3_storage_url, monkeypatch):
    """A 2-day backfill, one run at a time. Mid-way through day 1 the platform-state Postgres (FLEET_STATE_URL,
    its own server) crashes: day 1's analytics upload fails with one line naming the setting. Then the control
    machine crashes too (daemon SIGKILLed) while day 2 still waits (queued or just launched). A new daemon starts
    while the state database is still down (its code location must load all the same), then Postgres comes back.
    The backfill goes on: day 1 retried, day 2 run, every asset of every day materialized once, outputs and
    ledger equal to a clean run, each record acknowledged once."""
    days = ["2025-06-01", "2025-06-02"]
    dagster_db = new_database(postgres_server)
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_db.replace("postgresql://", "postgresql+psycopg2://", 1))
    pg = OwnPostgres(Path(tempfile.mkdtemp(prefix="fleet-pg-state-")))
    analytics = AnalyticsSandbox()
    reference = ThreadPoolExecutor(1)
    try:
        state_db = _with_password(new_database(pg.admin), "state-pw")
        with serve_in_thread(SANDBOX) as providers, serve_analytics(analytics) as graphql:
            env = _services_env(providers, FLEET_STATE_URL=state_db, FLEET_STORAGE_URL=s3_storage_url,
                                GRAPH_SERVICE_URL=graphql)
            # one run at a time: when the daemon dies, day 2 still waits (queue or launch, in Postgres)
            cluster = worker_hosts.Cluster(tmp_path / "cluster", env, workers=1, slots=1, dequeue_interval_seconds=1,
                                           daemon_interval_seconds=2, max_concurrent_runs=1)
            try:
                cluster.start()
                backfill_id = cluster.launch_backfill(PIPELINE, days)
                clean = reference.submit(_reference, tmp_path / "clean", PIPELINE, days)
                faults: dict = {}

                def crash_state_then_daemon(runs) -> None:
                    first = runs[-1] if runs else None  # the oldest: dequeued first (runs come newest first)
                    if first is None or "restored" in faults:
                        return
                    if "state" not in faults:
                        if cluster.instance.get_run_stats(first.run_id).steps_succeeded >= 1:
                            pg.crash()
                            faults["state"] = first.run_id
                    elif "daemon" not in faults:
                        if first.status == dg.DagsterRunStatus.FAILURE:
                            assert not all(r.is_finished for r in runs), cluster.summary(runs)  # day 2 pending
                            cluster.kill_daemon()
                            faults["daemon"] = cluster.daemon_log.stat().st_size
                            cluster.start_daemon()  # its code location loads with FLEET_STATE_URL unreachable
                    elif LOADED in cluster.daemon_log.read_text(errors="replace")[faults["daemon"]:]:
                        pg.start()  # the new daemon evaluated the backfill, so its code location loaded
                        faults["restored"] = True

                status, runs = cluster.wait_for_backfill(backfill_id, timeout=360, on_poll=crash_state_then_daemon)
                assert "restored" in faults, f"the backfill ended before the faults: {cluster.summary(runs)}"
                assert status == "COMPLETED_SUCCESS", cluster.summary(runs)
                # day 1: failed at the upload with one line naming the setting, then retried once
                failed = next(r for r in runs if r.run_id == faults["state"])
                assert failed.status == dg.DagsterRunStatus.FAILURE
                [message] = _step_failures(cluster.instance, failed.run_id)
                assert "FLEET_STATE_URL=" in message and "\n" not in message, message
                assert "state-pw" not in message and "***" in message, message
                retries = [r for r in runs if r.tags.get("dagster/parent_run_id") == failed.run_id]
                assert [r.status for r in retries] == [dg.DagsterRunStatus.SUCCESS], cluster.summary(runs)
                assert len(runs) == len(days) + 1, cluster.summary(runs)
                succeeded = sorted(r.tags["dagster/partition"] for r in runs if r.status == dg.DagsterRunStatus.SUCCESS)
                assert succeeded == days
                for asset in PIPELINE:  # no step ran twice, none was lost
                    assert _materializations(cluster.instance, asset) == days, asset
            finally:
                cluster.stop()
            with psycopg.connect(state_db) as conn:
                rows = conn.execute("SELECT partition_key, kind, count(*), count(DISTINCT (endpoint, fingerprint)) "
                                    "FROM upload_records GROUP BY 1, 2").fetchall()
            deployed = output_digests(FleetStorage(data_dir=str(tmp_path / "reader"), storage_url=s3_storage_url),
                                      days, DATASETS, PROVIDERS)
        clean_digests, clean_acks = clean.result()
        assert all(n == distinct for _, _, n, distinct in rows), rows  # each record acknowledged once
        assert {(p, k): n for p, k, n, _ in rows} == clean_acks
        assert sum(clean_acks.values()) == sum(analytics.stored_counts().values()) > 0  # nothing sent twice
        assert clean_digests["telemetry"][0] > 0 and deployed == clean_digests
    finally:
        reference.shutdown(wait=True)
        pg.stop()


def _run_events(instance, run_id: str, *types: str) -> list[str]:
    return [e.message or "" for e in instance.all_logs(run_id)
            if e.is_dagster_event and e.dagster_event.event_type_value in types]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_instance_database_crash_mid_run_the_run_goes_on_and_lands_once(tmp_path, postgres_server,
                                                                         s3_storage_url, monkeypatch):
    """The instance database (DAGSTER_PG_URL) crashes for a few seconds mid-run. Either the run's process rides
    it out (Dagster retries its connections) or it fails writing an event; both are fine, as long as the worker
    takes its claim again once Postgres is back (a restart drops every advisory lock): otherwise run monitoring
    fails a healthy run and its retry executes the day beside it. The day lands once either way."""
    day = "2025-06-01"
    assets = ["raw_motive", "normalized_motive"]
    pg = OwnPostgres(Path(tempfile.mkdtemp(prefix="fleet-pg-outage-")))
    try:
        dagster_db = _with_password(new_database(pg.admin), "instance-pw")
        monkeypatch.setenv("DAGSTER_PG_URL", dagster_db.replace("postgresql://", "postgresql+psycopg2://", 1))
        with serve_in_thread(SANDBOX) as providers:
            env = _services_env(providers, FLEET_STATE_URL=new_database(postgres_server),
                                FLEET_STORAGE_URL=s3_storage_url)
            cluster = worker_hosts.Cluster(tmp_path / "cluster", env, workers=1, slots=1, daemon_interval_seconds=2)
            try:
                cluster.start()
                backfill_id = cluster.launch_backfill(assets, [day])
                crashed: dict = {}

                def crash_postgres_mid_run(runs) -> None:
                    if crashed or not runs or cluster.instance.get_run_stats(runs[0].run_id).steps_succeeded < 1:
                        return
                    pg.crash()
                    crashed["run_id"] = runs[0].run_id
                    time.sleep(5)  # daemon, worker and run all see the database gone
                    pg.start()

                status, runs = cluster.wait_for_backfill(backfill_id, timeout=240, on_poll=crash_postgres_mid_run)
                assert crashed, "the run finished before Postgres could be crashed"
                assert status == "COMPLETED_SUCCESS", cluster.summary(runs)
                first = next(r for r in runs if r.run_id == crashed["run_id"])
                retries = [r for r in runs if r.tags.get("dagster/parent_run_id") == first.run_id]
                if first.status == dg.DagsterRunStatus.SUCCESS:
                    # the run rode out the outage: not failed by run monitoring meanwhile, no retry beside it
                    assert _run_events(cluster.instance, first.run_id, "RUN_FAILURE") == []
                    assert retries == [] and len(runs) == 1, cluster.summary(runs)
                else:  # its process lost the database while writing events: failed, and retried once
                    assert [r.status for r in retries] == [dg.DagsterRunStatus.SUCCESS], cluster.summary(runs)
                    assert len(runs) == 2, cluster.summary(runs)
                # no step ran twice: each asset materialized once
                for asset in assets:
                    assert _materializations(cluster.instance, asset) == [day], asset
                # the run's log says what happened, naming the setting, never the password
                lost = [m for m in _run_events(cluster.instance, first.run_id, "ENGINE_EVENT")
                        if "lost the Dagster instance database" in m]
                assert len(lost) == 1 and "DAGSTER_PG_URL" in lost[0], lost
                assert "instance-pw" not in lost[0] and "instance-pw" not in cluster.logs_tail(10**6)
            finally:
                cluster.stop()
    finally:
        pg.stop()


def test_ingest_server_with_the_state_database_down_at_start_up_is_one_line(tmp_path, free_port, monkeypatch):
    """The real command, keys in Postgres (no --keys-file): one line naming the setting, exit 2, nothing written."""
    monkeypatch.setenv("FLEET_STATE_URL", f"postgresql://fleet:state-pw@127.0.0.1:{free_port()}/fleet")
    data = tmp_path / "data"
    proc = subprocess.run([str(worker_hosts.BIN / "fleet-ingest-server"), "--data-dir", str(data), "--port",
                           str(free_port())], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("fleet-ingest-server: cannot connect to PostgreSQL at FLEET_STATE_URL="), line
    assert "Connection refused" in line and "state-pw" not in line and "***" in line, line
    assert not data.exists() and proc.stdout == ""
