"""Faults of a deployed platform, against the real services (issue 11, "Bad input and faults").

A real ``dagster-daemon`` and ``fleet-run-worker`` (scripts/worker_hosts.py) on the test PostgreSQL (instance
+ platform state) and moto S3 (data), providers served by the HTTP sandbox:

* the daemon SIGKILLed mid-backfill (the control machine crashes) and started again: the backfill goes on from
  its state in Postgres, every day once.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from fleet_assets.sandbox import SandboxConfig, serve_in_thread

SANDBOX = SandboxConfig(motive_vehicles=3, samsara_vehicles=0, interval_s=3600, latency_ms=50)


def _load_worker_hosts():
    import importlib.util

    spec = importlib.util.spec_from_file_location("worker_hosts", Path(__file__).parents[2] / "scripts" /
                                                  "worker_hosts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker_hosts = _load_worker_hosts()


def _new_database(admin: str) -> str:
    name = f"fleet_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.replace("/postgres?", f"/{name}?", 1)


def _services_env(providers: str, **extra: str) -> dict:
    return {**os.environ, "MOTIVE_API_KEY": SANDBOX.motive_api_key, "MOTIVE_BASE_URL": providers,
            "SAMSARA_API_TOKEN": SANDBOX.samsara_api_token, "SAMSARA_BASE_URL": providers, **extra}


def _materializations(instance, asset: str) -> list[str]:
    """The partition of every materialization event of ``asset`` (one per successful write)."""
    records = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    return sorted(r.partition_key for r in records)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_daemon_killed_mid_backfill_a_new_daemon_finishes_it_once(tmp_path, postgres_server, s3_storage_url,
                                                                 monkeypatch):
    days = ["2025-06-01", "2025-06-02", "2025-06-03"]
    assets = ["raw_motive", "normalized_motive"]
    dagster_db = _new_database(postgres_server)
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_db.replace("postgresql://", "postgresql+psycopg2://", 1))
    with serve_in_thread(SANDBOX) as providers:
        env = _services_env(providers, FLEET_STATE_URL=_new_database(postgres_server),
                            FLEET_STORAGE_URL=s3_storage_url)
        # one run at a time: when the daemon dies, the later days are still in its run queue (in Postgres)
        cluster = worker_hosts.Cluster(tmp_path / "cluster", env, workers=1, slots=1, daemon_interval_seconds=2,
                                       max_concurrent_runs=1)
        try:
            cluster.start()
            started = time.monotonic()
            backfill_id = cluster.launch_backfill(assets, days)
            killed: dict = {}

            def crash_the_daemon_once_a_day_is_done(runs) -> None:
                statuses = [r.status for r in runs]
                if killed or dg.DagsterRunStatus.SUCCESS not in statuses:
                    return
                assert dg.DagsterRunStatus.QUEUED in statuses or len(runs) < len(days), cluster.summary(runs)
                cluster.kill_daemon()
                killed.update(at=time.monotonic() - started, runs=cluster.summary(runs))
                cluster.start_daemon()

            status, runs = cluster.wait_for_backfill(backfill_id, timeout=240,
                                                     on_poll=crash_the_daemon_once_a_day_is_done)
            assert killed, "the backfill finished before the daemon could be killed"
            assert status == "COMPLETED_SUCCESS", cluster.summary(runs)
            # every day once: one run per day, each successful, and one materialization per asset and day
            assert sorted(r.tags["dagster/partition"] for r in runs) == days, cluster.summary(runs)
            assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs), cluster.summary(runs)
            for asset in assets:
                assert _materializations(cluster.instance, asset) == days, asset
            print(f"daemon killed at {killed['at']:.1f}s with runs {killed['runs']}; "
                  f"done at {time.monotonic() - started:.1f}s")
        finally:
            cluster.stop()
