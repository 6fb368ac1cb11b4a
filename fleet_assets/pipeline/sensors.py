"""Rebuild ``telemetry`` at once when one provider's branch of a day failed.

Dagster skips every step downstream of a failure, so when Motive is down the
day's ``telemetry`` step is skipped although Samsara's normalized partition
landed. This sensor sees the failed ``provider_ingest_job`` run and requests
``telemetry`` for that partition alone: it unions whatever normalized sources
exist (the failed provider keeps its previous partition, if any), so one
provider's outage never holds back the other's data. It fires only if at least
one normalized step of the run succeeded, and once per failed run (run key).
"""

from __future__ import annotations

import dagster as dg

from fleet_assets.pipeline.assets import telemetry

NORMALIZED_ASSETS = ("normalized_motive", "normalized_samsara")

telemetry_job = dg.define_asset_job(
    "telemetry_job", selection=dg.AssetSelection.assets(telemetry),
    description="Rebuild the deduplicated telemetry of one day from the normalized sources that exist.",
)


def build_telemetry_after_provider_failure_sensor(monitored_job) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="telemetry_after_provider_failure",
        monitored_jobs=[monitored_job],
        request_job=telemetry_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="When one provider fails a day, rebuild that day's telemetry from the provider that landed.",
    )
    def _sensor(context: dg.RunFailureSensorContext):
        run = context.dagster_run
        partition = run.tags.get("dagster/partition")
        if partition is None:
            return dg.SkipReason(f"run {run.run_id} has no single partition")
        landed = [name for name in NORMALIZED_ASSETS if _materialized_in_run(context.instance, name, partition, run.run_id)]
        if not landed:
            return dg.SkipReason(f"{partition}: no provider landed in run {run.run_id}; nothing new to union")
        context.log.info("%s: %s landed although run %s failed; rebuilding telemetry", partition, landed, run.run_id)
        return dg.RunRequest(run_key=f"telemetry:{partition}:{run.run_id}", partition_key=partition,
                             tags={"fleet/rebuild_after": run.run_id})

    return _sensor


def _materialized_in_run(instance: dg.DagsterInstance, asset: str, partition: str, run_id: str) -> bool:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[partition]), limit=1
    ).records
    return bool(records) and records[0].run_id == run_id
