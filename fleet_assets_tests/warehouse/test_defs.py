"""The warehouse area: its jobs and schedules, and the retention job deleting old partitions."""

from datetime import UTC, datetime

import dagster as dg

from fleet_assets.schema import empty_telemetry_table
from fleet_assets.storage.parquet_partitions import list_partitions, write_partition
from fleet_assets.warehouse.defs import defs, storage_retention_job
from fleet_assets.warehouse.resources import FleetStorage


def test_jobs_and_schedules_are_defined():
    assert {j.name for j in defs.jobs} == {"warehouse_catalog_job", "storage_retention_job"}
    assert {s.name: s.cron_schedule for s in defs.schedules} == {
        "warehouse_catalog_schedule": "45 3 * * *", "storage_retention_schedule": "30 4 * * 0"}


def test_retention_job_deletes_old_partitions(tmp_path):
    storage = FleetStorage(data_dir=str(tmp_path))
    for day in ("2020-01-01", "2020-01-02"):
        write_partition(storage.dataset("telemetry"), day, empty_telemetry_table())
    today = datetime.now(UTC).date().isoformat()
    write_partition(storage.dataset("telemetry"), today, empty_telemetry_table())
    with dg.instance_for_test() as instance:
        job = dg.Definitions(jobs=[storage_retention_job], resources={"storage": storage}).resolve_job_def(storage_retention_job.name)
        result = job.execute_in_process(run_config={"ops": {"prune_old_partitions": {"config": {"keep_days": 30}}}}, instance=instance)
    assert result.output_for_node("prune_old_partitions") == 2
    assert list_partitions(storage.dataset("telemetry")) == [today]
