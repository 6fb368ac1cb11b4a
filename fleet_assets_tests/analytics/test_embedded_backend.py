"""Issue 12 item 1: with the embedded defaults, every day after the first must upload too.

Each day is its own ``dg.materialize`` (its own run, its own ``AnalyticsResource`` and backend object, as
in a backfill) over ONE ``FLEET_DATA_DIR``; the ledger there outlives the runs, so the embedded backend's
data must as well.
"""

from __future__ import annotations

import dagster as dg

from fleet_assets.analytics.assets import analytics_upload
from fleet_assets.analytics.resources import AnalyticsResource

from .conftest import make_day

DAYS = ("2025-06-01", "2025-06-02")


def _materialize(storage, day: str, instance, **resource):
    return dg.materialize([analytics_upload], partition_key=day, instance=instance,
                          resources={"storage": storage, "analytics": AnalyticsResource(**resource)},
                          raise_on_error=False)


def _failure(result) -> str:
    return "; ".join(str(e.step_failure_data.error) for e in result.all_events if e.is_step_failure)


def test_embedded_defaults_upload_every_day_not_only_the_first(storage, write_day):
    days = {key: make_day(key, points=40, events=30, dtcs=3) for key in DAYS}
    for key, d in days.items():
        write_day(d, key)
    with dg.instance_for_test() as instance:
        results = {key: _materialize(storage, key, instance) for key in DAYS}
    for key, result in results.items():
        assert result.success, f"{key}: {_failure(result)}"
        meta = result.asset_materializations_for_node("analytics_upload")[0].metadata
        assert {k: meta[f"records_sent/{k}"].value for k in days[key].expected} == days[key].expected
        assert meta["dead_lettered"].value == 0
    from fleet_assets.analytics.sandbox import AnalyticsSandbox
    from fleet_assets.analytics.wiring import SANDBOX_STORE

    store = AnalyticsSandbox(store_path=str(storage.root / SANDBOX_STORE))  # what `make dev` serves
    try:
        assert store.stored_counts() == {k: sum(d.expected[k] for d in days.values()) for k in days[DAYS[0]].expected}
        assert store.configuration_count == 5  # 4 trucks + the VIN-less one, created once for both days
    finally:
        store.close()
