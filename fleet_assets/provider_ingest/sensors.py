"""Rebuild ``telemetry`` at once when one provider's branch of a day failed.

Dagster skips every step downstream of a failure, so when Motive is down the
day's ``telemetry`` step is skipped although Samsara's normalized partition
landed. This sensor sees any failed run of this code location in which a
provider step (``raw_*``/``normalized_*``) failed, whatever job ran it: the
nightly ``provider_ingest_job``, a backfill launched from the UI
(``__ASSET_JOB``), the trip sensor's runs or any other asset job. It requests
``telemetry`` for that partition alone: it unions whatever normalized sources
exist (the failed provider keeps its previous partition, if any), so one
provider's outage never holds back the other's data. It fires only if at least
one normalized step of the run succeeded, and once per failed run (run key).
Runs that failed for another reason (including ``telemetry_job`` itself) are
skipped, so the sensor never loops.
"""

from __future__ import annotations

import dagster as dg

NORMALIZED_ASSETS = ("normalized_motive", "normalized_samsara")
PROVIDER_STEPS = frozenset({"raw_motive", "raw_samsara", *NORMALIZED_ASSETS})

def build_telemetry_after_provider_failure_sensor(telemetry_job) -> dg.SensorDefinition:
    """The sensor, requesting ``telemetry_job`` (defined with the area's other jobs in ``defs``)."""
    # No monitored_jobs: every job of this code location, including the implicit asset job of UI backfills.
    @dg.run_failure_sensor(
        name="telemetry_after_provider_failure",
        request_job=telemetry_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When one provider fails a day (in any job or backfill), rebuild that day's telemetry from "
                    "the provider that landed.",
    )
    def _sensor(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        partition = run.tags.get("dagster/partition")
        if partition is None:
            return dg.SkipReason(f"run {run.run_id} has no single partition")
        failed = _failed_provider_steps(context.instance, run.run_id)
        if not failed:
            return dg.SkipReason(f"{partition}: no provider step failed in run {run.run_id} ({run.job_name})")
        landed = [name for name in NORMALIZED_ASSETS if _materialized_in_run(context.instance, name, partition, run.run_id)]
        if not landed:
            return dg.SkipReason(f"{partition}: no provider landed in run {run.run_id}; nothing new to union")
        context.log.info("%s: %s landed although %s failed in run %s (%s); rebuilding telemetry",
                         partition, landed, failed, run.run_id, run.job_name)
        return dg.RunRequest(run_key=f"telemetry:{partition}:{run.run_id}", partition_key=partition,
                             tags={"fleet/rebuild_after": run.run_id, "fleet/failed_steps": ",".join(failed)})

    return _sensor


def _failed_provider_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    return sorted({r.event_log_entry.step_key for r in records} & PROVIDER_STEPS)


def _materialized_in_run(instance: dg.DagsterInstance, asset: str, partition: str, run_id: str) -> bool:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return bool(records) and records[0].run_id == run_id
