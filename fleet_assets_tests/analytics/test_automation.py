"""analytics_upload runs automatically once the day's telemetry (and trip assets) land (issue 12 item 21).

Evaluated with Dagster's own automation-condition evaluator against a real
instance, tick after tick, as the automation condition sensor does.
"""

from datetime import datetime, timedelta, timezone

import dagster as dg

from fleet_assets.definitions import defs
from fleet_assets.partitions import daily_partitions

UPLOAD = dg.AssetKey("analytics_upload")


def _land(instance: dg.DagsterInstance, asset: str, day: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=asset, partition=day))


def test_upload_is_requested_after_the_days_telemetry_lands():
    day = daily_partitions.get_last_partition_key()
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert first.get_requested_partitions(UPLOAD) == set()  # nothing landed yet

        _land(instance, "edge_events", day)
        _land(instance, "edge_dtcs", day)
        waiting = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
        assert waiting.get_requested_partitions(UPLOAD) == set()  # trip assets alone: telemetry not there yet

        _land(instance, "telemetry", day)
        landed = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=waiting.cursor)
        assert landed.get_requested_partitions(UPLOAD) == {day}
        assert landed.total_requested == 1  # nothing else of the code location is automated this way

        again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=landed.cursor)
        assert again.get_requested_partitions(UPLOAD) == set()  # once per update, not every tick

        _land(instance, "telemetry", day)  # late data re-landed the day: upload what is new (the ledger dedupes)
        late = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=again.cursor)
        assert late.get_requested_partitions(UPLOAD) == {day}


def test_no_upload_when_only_old_history_changes():
    day = daily_partitions.get_last_partition_key()
    old = (datetime.now(timezone.utc) - timedelta(days=400)).date().isoformat()
    with dg.instance_for_test() as instance:
        cursor = dg.evaluate_automation_conditions(defs=defs, instance=instance).cursor
        _land(instance, "telemetry", old)  # a historical backfill includes analytics_upload itself (README)
        result = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=cursor)
        assert result.get_requested_partitions(UPLOAD) == set()
    assert day > old


def test_automation_sensor_for_the_upload_starts_running():
    sensor = defs.resolve_sensor_def("analytics_upload_automation")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert defs.resolve_assets_def(UPLOAD).automation_conditions_by_key[UPLOAD] is not None
