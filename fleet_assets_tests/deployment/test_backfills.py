"""Backfills launched through the GraphQL API of a running `make dev` deployment, exactly as the UI does.

The daemon turns each into one run per partition (no BackfillPolicy: Dagster's
default), runs them in the run queue with the code location's real executor,
and the tests check the outcome through the API and the files that landed.
"""

import pytest

from fleet_assets.warehouse.resources import FleetStorage
from fleet_assets.storage.parquet_partitions import PART_FILE, partition_dir

PROVIDER_ASSETS = ["raw_motive", "raw_samsara", "normalized_motive", "normalized_samsara"]
TEN_ASSETS = [*PROVIDER_ASSETS, "edge_events", "edge_dtcs", "trip_summaries", "normalized_edge", "telemetry",
              "analytics_upload"]


HISTORY_DAY = "2017-01-10"
SEVEN_DAYS = [f"2025-06-{day:02d}" for day in range(1, 8)]


def _partitions(backfill: dict) -> list[str]:
    return sorted(t["value"] for r in backfill["runs"] for t in r["tags"] if t["key"] == "dagster/partition")


@pytest.fixture(scope="module")
def backfills(deployment) -> dict[str, str]:
    """Both backfills launched at once, as a user may queue several in the UI: the daemon's ticks (30 s apart in
    `make dev`) and the run queue are shared, so the two tests wait for them once instead of one after the other.
    The 2017 day goes first, so its one run is in the first wave of the run queue (max_concurrent_runs: 4)."""
    return {"history": deployment.launch_backfill(PROVIDER_ASSETS, [HISTORY_DAY]),
            "seven_days": deployment.launch_backfill(TEN_ASSETS, SEVEN_DAYS)}


@pytest.mark.slow
@pytest.mark.timeout(600)  # above the backfill's own wait, so a slow run fails with its summary
def test_backfill_of_2017_history(deployment, backfills):
    """Item 2: with FLEET_PARTITIONS_START=2017-01-01 a 2017 day of the provider assets loads, and lands in Parquet."""
    day = HISTORY_DAY
    backfill = deployment.wait_for_backfill(backfills["history"], timeout=300)
    assert backfill["status"] == "COMPLETED_SUCCESS", deployment.summarize(backfill["runs"])
    assert [r["status"] for r in backfill["runs"]] == ["SUCCESS"] and _partitions(backfill) == [day]
    storage = FleetStorage(data_dir=str(deployment.data_dir))
    for dataset in ("normalized_motive", "normalized_samsara"):
        assert (partition_dir(storage.dataset(dataset), day) / PART_FILE).stat().st_size > 0, dataset


@pytest.mark.slow
@pytest.mark.timeout(600)  # above the backfill's own 540 s wait, so a slow run fails with the runs' summary
def test_seven_day_backfill_of_the_ten_assets_succeeds(deployment, backfills):
    """Item 1: raw_motive … analytics_upload for 7 consecutive days, on the embedded defaults, every run succeeds
    (launched beside the 2017 backfill, see ``backfills``)."""
    days = SEVEN_DAYS
    backfill = deployment.wait_for_backfill(backfills["seven_days"], timeout=540)
    runs = backfill["runs"]
    assert backfill["status"] == "COMPLETED_SUCCESS" and all(r["status"] == "SUCCESS" for r in runs), deployment.summarize(runs)
    assert _partitions(backfill) == days  # one run per partition (Dagster's default without a backfill policy)
    storage = FleetStorage(data_dir=str(deployment.data_dir))
    for day in days:
        assert (partition_dir(storage.dataset("telemetry"), day) / PART_FILE).exists(), day
