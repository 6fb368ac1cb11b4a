"""The late-data lookback schedule of the provider ingest (N = ``settings.lookback_days()``).

Providers deliver late (devices upload after reconnecting, Samsara backfills
history), so every night re-materializes the last N days, not just
yesterday. Each partition is its own run with a run key of
``<partition>@<tick date>``: stable for a tick (a re-evaluated tick does not
launch twice) and new the next night (so the day is refreshed again).
"""

import dagster as dg

from fleet_assets.partitions import daily_partitions
from fleet_assets.settings import DEFAULT_LOOKBACK_DAYS, LOOKBACK_ENV, lookback_days


def build_lookback_schedule(
    job,
    *,
    name: str,
    cron_schedule: str = "15 2 * * *",
    default_lookback_days: int = DEFAULT_LOOKBACK_DAYS,
) -> dg.ScheduleDefinition:
    @dg.schedule(name=name, job=job, cron_schedule=cron_schedule, execution_timezone="UTC",
                 description=f"Re-materialize the last N days (N = ${LOOKBACK_ENV}, default {default_lookback_days}).")
    def _schedule(context: dg.ScheduleEvaluationContext):
        n = lookback_days(default_lookback_days)
        keys = daily_partitions.get_partition_keys(current_time=context.scheduled_execution_time)[-n:]
        tick = context.scheduled_execution_time.strftime("%Y-%m-%d")
        return [dg.RunRequest(run_key=f"{key}@{tick}", partition_key=key, tags={"fleet/lookback": str(n)}) for key in keys]

    return _schedule
