"""Peak memory of the trip assets does not grow with the day: a day 10x one shard vs a one-shard day.

Each day is materialized in its own subprocess (``ru_maxrss`` is per process), after a warm-up run of an
empty day in the same process (imports, Dagster's run machinery), so what is compared is the growth caused
by the day itself. Measured (2 cores, loaded): one-shard day +58 MB, 10x day in 10 shards +64 MB, the same
10x day as ONE group (the old whole-day read: every record a Python dict, plus its DataFrames) +141 MB, i.e.
83 MB over the one-shard day, which fails MARGIN_MB.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from fleet_assets.ingest.synthetic import synthetic_trip, utc

from .conftest import land

SHARD = 6_000          # records per group (landing_reader.GROUP_RECORDS in the child)
TRIP = 1_500           # records per trip, one trip per vehicle
MARGIN_MB = 40         # allowed peak growth of the 10x day over the one-shard day

CHILD = """
import json, resource, sys
from fleet_assets.trips import landing_reader
landing_reader.GROUP_RECORDS = int(sys.argv[3])
import dagster as dg
from fleet_assets.trips.assets import TRIP_ASSETS
from fleet_assets.warehouse.resources import FleetStorage
storage = FleetStorage(data_dir=sys.argv[1])
def run(day):
    assert dg.materialize(TRIP_ASSETS, partition_key=day, resources={"storage": storage}).success
run(sys.argv[4])  # warm-up: an empty day (its own per child: two children may run at once)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
run(sys.argv[2])
print(json.dumps({"base_kb": base, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def peak_growth_mb(data_dir, day: str, shard: int, warm_up_day: str) -> float:
    out = subprocess.run([sys.executable, "-c", CHILD, str(data_dir), day, str(shard), warm_up_day],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    rss = json.loads(out.stdout.strip().splitlines()[-1])
    return (rss["peak_kb"] - rss["base_kb"]) / 1024


def _land_day(zone, day: int, vehicles: int) -> None:
    for v in range(vehicles):
        trip = synthetic_trip(f"1FTFW1E50PF{v:06d}", str(uuid.uuid4()), utc(2025, 3, day, 6, v % 60, 0), TRIP,
                              per_chunk=500)
        land(zone, trip)


@pytest.mark.slow
def test_peak_memory_of_a_day_10x_one_shard_stays_flat(storage, zone):
    _land_day(zone, 4, SHARD // TRIP)        # one shard
    _land_day(zone, 5, 10 * SHARD // TRIP)   # ten shards
    # both days at once, each in its own process (ru_maxrss is per process): the small day costs no wall time
    with ThreadPoolExecutor(2) as pool:
        small, large = pool.map(peak_growth_mb, [storage.root] * 2, ["2025-03-04", "2025-03-05"], [SHARD] * 2,
                                ["2025-01-01", "2025-01-02"])
    assert large - small < MARGIN_MB, f"peak RSS grew {large:.0f} MB (10x day) vs {small:.0f} MB (one shard)"
