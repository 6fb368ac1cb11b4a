"""The one daily partitioning every daily asset shares (UTC calendar days).

UTC because provider timestamps are UTC and a fleet spans time zones; the
partition column is the UTC ``date`` of each point. ``end_offset=0``: the
newest key is the last *completed* day, so a scheduled run never captures a
half day (late data is picked up by the lookback schedule instead).

The first day is a setting, ``FLEET_PARTITIONS_START`` (default 2025-01-01),
read here once (parsed by ``fleet_assets.settings``): history older than the default (a device's 2017
trips, a provider's archive) is loadable once the start is moved back. It is
read when the code location loads, so the webserver, daemon and run workers
of one deployment agree on it.

No ``BackfillPolicy``: without one, Dagster launches one run per partition in a
backfill (what we want: a failed day retries alone, no run holds more than one
day in memory) and the policy, still beta, only added a warning per asset.
"""

import dagster as dg

from fleet_assets import settings

DAILY_START_DATE = settings.partitions_start()

daily_partitions = dg.DailyPartitionsDefinition(start_date=DAILY_START_DATE, timezone="UTC", end_offset=0)
