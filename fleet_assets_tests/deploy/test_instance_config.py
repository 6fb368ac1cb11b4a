"""deploy/dagster.yaml is a valid instance: Dagster's own schema check, Postgres storage, the queued
coordinator, run monitoring/retries and the pools, loaded by Dagster itself (in process and by its CLI)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fleet_assets.provider_ingest.pools import PROVIDER_POOLS, concurrent_fetches

DAGSTER = str(Path(sys.executable).with_name("dagster"))


def _dagster(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([DAGSTER, *args], capture_output=True, text=True, timeout=120, env=env)


def test_shipped_instance_uses_postgres_queue_monitoring_retries_and_pools(deployed_instance):
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    inst = deployed_instance
    assert isinstance(inst.run_storage, PostgresRunStorage)
    assert isinstance(inst.event_log_storage, PostgresEventLogStorage)
    assert isinstance(inst.schedule_storage, PostgresScheduleStorage)
    assert isinstance(inst.run_coordinator, QueuedRunCoordinator)
    config = inst.get_concurrency_config()
    assert config.run_queue_config.max_concurrent_runs == 8
    assert config.pool_config.default_pool_limit == 1
    assert inst.run_monitoring_enabled and inst.run_retries_enabled and inst.run_retries_max_retries == 2
    assert inst.event_log_storage.supports_global_concurrency_limits
    # Unset pools get the default (duckdb_catalog's single writer, one fetch per provider) ...
    assert {p: concurrent_fetches(inst, p) for p in PROVIDER_POOLS} == {
        "motive": (1, "pool motive_api has limit 1"), "samsara": (1, "pool samsara_api has limit 1")}
    # ... an operator's limit wins, and the run queue still bounds it.
    inst.event_log_storage.set_concurrency_slots("motive_api", 3)
    inst.event_log_storage.set_concurrency_slots("samsara_api", 20)
    assert concurrent_fetches(inst, "motive") == (3, "pool motive_api has limit 3")
    assert concurrent_fetches(inst, "samsara") == (8, "max_concurrent_runs is 8")


@pytest.mark.slow
def test_dagster_cli_sees_the_postgres_instance_and_sets_pool_limits(deployed_home):
    info = _dagster("instance", "info")
    assert info.returncode == 0, info.stderr
    for expected in ("PostgresRunStorage", "PostgresEventLogStorage", "max_concurrent_runs: 8", "default_limit: 1"):
        assert expected in info.stdout, info.stdout
    assert os.environ["DAGSTER_PG_URL"] not in info.stdout  # the URL (and any password) stays in the environment

    got = _dagster("instance", "concurrency", "set", "motive_api", "2")  # as the README tells operators
    assert got.returncode == 0, got.stderr
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(deployed_home)) as instance:  # another process, same database
        assert concurrent_fetches(instance, "motive") == (2, "pool motive_api has limit 2")


def test_missing_database_setting_is_one_clear_error(deployed_home):
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_PG_URL"}
    info = _dagster("instance", "info", env=env)
    assert info.returncode != 0
    assert "DAGSTER_PG_URL" in info.stdout + info.stderr
