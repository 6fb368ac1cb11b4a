"""completed_trips_sensor: cursor-based, per-day run requests, pending days, run keys."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import dagster as dg

from fleet_assets.ingest.synthetic import utc
from fleet_assets.trips.defs import defs as trips_defs
from fleet_assets.trips.sensors import completed_trips_sensor, plan_tick


def _tick(storage, cursor=None):
    with dg.instance_for_test() as instance:
        defs = dg.Definitions.merge(trips_defs, dg.Definitions(resources={"storage": storage}))
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                          resources={"storage": storage})
        return completed_trips_sensor(context)


def test_ticks_request_affected_days_once(backend_storage, backend_land_trip):
    storage, land_trip = backend_storage, backend_land_trip
    land_trip(start=utc(2025, 3, 4, 10))
    land_trip(start=utc(2025, 3, 4, 23, 59, 30))  # crosses midnight: both days
    first = _tick(storage)
    assert sorted(r.partition_key for r in first.run_requests) == ["2025-03-04", "2025-03-05"]
    assert {r.run_key for r in first.run_requests} == {"completed_trips_sensor:2025-03-04:2",
                                                       "completed_trips_sensor:2025-03-05:2"}
    assert json.loads(first.cursor) == {"seq": 2, "pending": []}

    again = _tick(storage, first.cursor)
    assert again.run_requests == [] and "0 new trips" in again.skip_reason.skip_message

    land_trip(start=utc(2025, 3, 5, 8))
    third = _tick(storage, first.cursor)
    assert [(r.partition_key, r.run_key) for r in third.run_requests] == [("2025-03-05", "completed_trips_sensor:2025-03-05:3")]


def test_tick_reads_only_new_markers(storage, zone, land_trip):
    for hour in range(3):
        land_trip(start=utc(2025, 3, 4, hour))
    cursor = _tick(storage).cursor
    for old in zone.completed_dir.glob("0*.json"):
        old.unlink()  # a tick after the cursor must not need them
    land_trip(start=utc(2025, 3, 6, 1))
    result = _tick(storage, cursor)
    assert [r.partition_key for r in result.run_requests] == ["2025-03-06"]
    assert json.loads(result.cursor)["seq"] == 4


def test_open_day_waits_until_it_is_a_partition(storage, land_trip):
    now = datetime.now(timezone.utc).replace(microsecond=0)
    land_trip(start=now - timedelta(minutes=5))
    result = _tick(storage)
    today = now.date().isoformat()
    assert today in json.loads(result.cursor)["pending"]
    assert today not in [r.partition_key for r in result.run_requests]


def test_plan_tick_pending_and_dropped_days():
    from fleet_assets.ingest.landing import CompletionMarker

    markers = [CompletionMarker(seq=7, trip_id="t", vin="v", days=["1970-01-01", "2025-06-01", "2025-06-02"], event_count=3)]
    plan = plan_tick(json.dumps({"seq": 6, "pending": ["2025-05-31"]}), markers, last_day="2025-06-01")
    assert plan.run_days == ["2025-05-31", "2025-06-01"]
    assert plan.pending == ["2025-06-02"] and plan.dropped_days == ["1970-01-01"] and plan.seq == 7
    later = plan_tick(plan.cursor(), [], last_day="2025-06-02")
    assert later.run_days == ["2025-06-02"] and later.pending == [] and later.seq == 7


def test_sensor_targets_trip_assets_and_telemetry(storage):
    from fleet_assets.partitions import daily_partitions

    @dg.asset(name="telemetry", deps=["normalized_edge"], partitions_def=daily_partitions)
    def telemetry_stand_in() -> None:
        """Stands in for the provider_ingest area's telemetry asset (only its key and dependency matter)."""

    defs = dg.Definitions.merge(trips_defs, dg.Definitions(assets=[telemetry_stand_in], resources={"storage": storage}))
    sensor = defs.resolve_sensor_def("completed_trips_sensor")
    job = defs.resolve_job_def(sensor.targets[0].job_name)
    names = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
    assert names == {"edge_events", "edge_dtcs", "trip_summaries", "normalized_edge", "telemetry"}


def test_plan_tick_uses_the_configured_start():
    from fleet_assets.ingest.landing import CompletionMarker

    markers = [CompletionMarker(seq=1, trip_id="t", vin="v", days=["2016-12-31", "2017-01-10"], event_count=3)]
    plan = plan_tick(None, markers, last_day="2025-06-01", start="2017-01-01")
    assert plan.run_days == ["2017-01-10"] and plan.dropped_days == ["2016-12-31"]


def test_refused_days_are_visible_in_the_ui(storage, land_trip):
    """Days before the partitions start are reported as an observation (asset catalog) and in the tick's skip reason."""
    land_trip(start=utc(2024, 6, 1, 10))
    result = _tick(storage)
    assert result.run_requests == []
    assert "refused 1 day(s) before the partitions start 2025-01-01: 2024-06-01" in result.skip_reason.skip_message
    assert "FLEET_PARTITIONS_START" in result.skip_reason.skip_message
    [event] = result.asset_events
    assert isinstance(event, dg.AssetObservation) and event.asset_key == dg.AssetKey("edge_events")
    assert event.metadata["refused_days"].value == ["2024-06-01"]
    assert event.metadata["partitions_start"].value == "2025-01-01"

    land_trip(start=utc(2024, 6, 2, 10))
    land_trip(start=utc(2025, 3, 4, 10))  # a valid day runs; the refused one is still reported
    mixed = _tick(storage, result.cursor)
    assert [r.partition_key for r in mixed.run_requests] == ["2025-03-04"]
    assert [e.metadata["refused_days"].value for e in mixed.asset_events] == [["2024-06-02"]]


def test_no_refused_days_no_observation(storage, land_trip):
    land_trip(start=utc(2025, 3, 4, 10))
    assert _tick(storage).asset_events == []
