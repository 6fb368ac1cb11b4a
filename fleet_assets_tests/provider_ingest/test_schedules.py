"""The late-data lookback schedule and the provider-ingest job wiring."""

import contextvars
from datetime import UTC, datetime

import dagster as dg
import pytest

from fleet_assets.provider_ingest.defs import defs, provider_ingest_schedule
from fleet_assets.settings import LOOKBACK_ENV
from fleet_assets.warehouse.resources import FleetStorage


RESOLVED = dg.Definitions.merge(defs, dg.Definitions(resources={
    "storage": FleetStorage(), "motive": dg.ResourceDefinition.none_resource(), "samsara": dg.ResourceDefinition.none_resource()}))


def _tick(when):
    # Dagster 1.13 re-enters the instance while evaluating a tick, which leaves its
    # defs-state ContextVar pointing at the disposed instance after the `with`;
    # later materialize() calls in the same process then fail with "undefined
    # DagsterInstance weakref". A copied context keeps that leak inside this call.
    return contextvars.copy_context().run(_tick_in_context, when)


def _tick_in_context(when):
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=when, repository_def=RESOLVED.get_repository_def())
        return provider_ingest_schedule.evaluate_tick(context)


def test_lookback_requests_last_seven_days_with_stable_run_keys(monkeypatch):
    monkeypatch.delenv(LOOKBACK_ENV, raising=False)
    when = datetime(2026, 3, 10, 2, 15, tzinfo=UTC)
    first, again = _tick(when), _tick(when)
    keys = [r.partition_key for r in first.run_requests]
    assert keys == [f"2026-03-{d:02d}" for d in range(3, 10)]  # end_offset=0: yesterday is the newest
    assert [r.run_key for r in first.run_requests] == [r.run_key for r in again.run_requests]
    assert first.run_requests[-1].run_key == "2026-03-09@2026-03-10"
    tomorrow = _tick(datetime(2026, 3, 11, 2, 15, tzinfo=UTC))
    assert "2026-03-09@2026-03-11" in {r.run_key for r in tomorrow.run_requests}  # re-fetched on a later night


def test_lookback_configurable(monkeypatch):
    monkeypatch.setenv(LOOKBACK_ENV, "2")
    assert [r.partition_key for r in _tick(datetime(2026, 3, 10, 2, 15, tzinfo=UTC)).run_requests] == ["2026-03-08", "2026-03-09"]
    monkeypatch.setenv(LOOKBACK_ENV, "0")
    with pytest.raises(dg.DagsterUserCodeExecutionError) as info:
        _tick(datetime(2026, 3, 10, 2, 15, tzinfo=UTC))
    assert "FLEET_LOOKBACK_DAYS must be >= 1" in str(info.value.__cause__)


def test_job_and_schedules_are_defined():
    job = RESOLVED.resolve_job_def("provider_ingest_job")
    assert {k.to_user_string() for k in job.asset_layer.executable_asset_keys} >= {
        "raw_motive", "raw_samsara", "normalized_motive", "normalized_samsara", "telemetry"}
    assert {s.name for s in defs.schedules} == {"provider_ingest_lookback_schedule"}
    assert {j.name for j in defs.jobs} == {"provider_ingest_job", "telemetry_job"}

