"""The one daily partitioning every daily asset shares (UTC calendar days).

UTC because provider timestamps are UTC and a fleet spans time zones; the
partition column is the UTC ``date`` of each point. ``end_offset=0``: the
newest key is the last *completed* day, so a scheduled run never captures a
half day (late data is picked up by the lookback schedule instead).
"""

import dagster as dg

DAILY_START_DATE = "2025-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=DAILY_START_DATE, timezone="UTC", end_offset=0)

# One run per day in backfills: a failed day retries alone, and no run holds
# more than one day's data in memory (days are independent Parquet files).
daily_backfill_policy = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
