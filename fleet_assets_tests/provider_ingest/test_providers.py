"""Raw fetches against the provider sandbox: happy path, fault isolation, errors after retries.

Real HTTP: the in-process sandbox transport for healthy providers, a loopback
uvicorn sandbox (``serve_in_thread``) for fault-injected ones.
"""

import dagster as dg
import pytest

from fleet_assets.provider_ingest.defs import PIPELINE_ASSETS
from fleet_assets.provider_ingest.fetch import IncompleteFetchError
from fleet_assets.providers.errors import ProviderAuthError, ProviderResponseError, ProviderUnavailableError
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.sandbox import FaultConfig, SandboxConfig, serve_in_thread
from fleet_assets.storage.catalog import connect_parquet
from fleet_assets.storage.parquet_partitions import PART_FILE, list_partitions, partition_dir
from fleet_assets.storage.raw_store import raw_day_dir, read_raw

SMALL = {"sandbox_vehicles": 3, "sandbox_interval_s": 600}
FAST_RETRY = {"max_retries": 2, "max_rate_limit_retries": 2, "backoff_base_s": 0.0, "backoff_max_s": 0.0,
              "read_timeout_s": 0.3, "connect_timeout_s": 2.0}
DAY = "2025-06-02"


def _resources(storage, motive=None, samsara=None):
    return {"storage": storage, "motive": motive or MotiveResource(**SMALL), "samsara": samsara or SamsaraResource(**SMALL)}


def _names(result, event):
    return {e.asset_key.to_user_string() for e in result.all_events if e.event_type_value == event and e.asset_key}


@pytest.mark.slow
def test_three_days_from_the_sandbox_and_byte_identical_rerun(storage):
    days = ["2025-06-01", "2025-06-02", "2025-06-03"]
    for day in days:
        result = dg.materialize(PIPELINE_ASSETS, partition_key=day, resources=_resources(storage))
        assert result.success and all(c.passed for c in result.get_asset_check_evaluations())
        raw = result.asset_materializations_for_node("raw_samsara")[0].metadata
        assert raw["raw_gps_points"].value > 0
    sql = "SELECT * EXCLUDE (date), date::VARCHAR FROM telemetry ORDER BY ALL"
    with connect_parquet(storage.root / "parquet") as con:
        first = con.execute(sql).fetchall()
        per_day = dict(con.execute("SELECT date::VARCHAR, count(*) FROM telemetry GROUP BY 1").fetchall())
        providers = {r[0] for r in con.execute("SELECT DISTINCT provider FROM telemetry").fetchall()}
    assert set(per_day) == set(days) and all(n > 0 for n in per_day.values()) and providers == {"motive", "samsara"}
    before = (partition_dir(storage.dataset("telemetry"), days[1]) / PART_FILE).read_bytes()
    assert dg.materialize(PIPELINE_ASSETS, partition_key=days[1], resources=_resources(storage)).success
    with connect_parquet(storage.root / "parquet") as con:
        assert con.execute(sql).fetchall() == first
    assert (partition_dir(storage.dataset("telemetry"), days[1]) / PART_FILE).read_bytes() == before
    assert read_raw(storage.raw_dir, "samsara", days[1]).manifest["window"]["start"].startswith("2025-06-01")


def test_motive_401_does_not_stop_samsara(storage):
    with serve_in_thread(SandboxConfig(motive_vehicles=3, samsara_vehicles=3)) as url:
        motive = MotiveResource(api_key="wrong-key", base_url=url, **FAST_RETRY)
        result = dg.materialize(PIPELINE_ASSETS, partition_key=DAY, resources=_resources(storage, motive=motive), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure and e.step_key == "raw_motive")
    error = failure.event_specific_data.error
    assert "ProviderAuthError" in str(error) and "motive" in str(error), str(error)[:500]
    assert _names(result, "ASSET_MATERIALIZATION") == {"raw_samsara", "normalized_samsara"}
    assert not raw_day_dir(storage.raw_dir, "motive", DAY).exists()
    assert list_partitions(storage.dataset("normalized_motive")) == []
    with connect_parquet(storage.root / "parquet") as con:
        assert con.execute("SELECT count(*) FROM normalized_samsara").fetchone()[0] > 0
    # Once the outage is over, telemetry is rebuilt from whatever landed.
    assert dg.materialize([PIPELINE_ASSETS[-1]], partition_key=DAY, resources=_resources(storage)).success


FAULTS = [
    ("http_500", ProviderUnavailableError, "500"),
    ("rate_limit", ProviderUnavailableError, "429"),
    ("truncated", ProviderResponseError, ""),
    ("timeout", ProviderUnavailableError, ""),
]


@pytest.mark.parametrize("kind, error, status", FAULTS)
def test_persistent_provider_faults_fail_clearly_and_keep_previous_raw(storage, kind, error, status):
    # A good fetch first, so there is something a failed re-fetch must not damage.
    assert dg.materialize(PIPELINE_ASSETS[:1], partition_key=DAY, resources=_resources(storage)).success
    before = read_raw(storage.raw_dir, "motive", DAY)
    faults = FaultConfig(rate=1.0, kinds=(kind,), max_faulty_attempts=1000, retry_after_s=0.01, timeout_s=1.0)
    with serve_in_thread(SandboxConfig(motive_vehicles=3, faults=faults)) as url:
        motive = MotiveResource(api_key="sandbox-motive-key", base_url=url, **FAST_RETRY)
        with pytest.raises(error) as info:
            dg.materialize(PIPELINE_ASSETS[:1], partition_key=DAY, resources=_resources(storage, motive=motive))
    assert "motive" in str(info.value) and status in str(info.value)
    after = read_raw(storage.raw_dir, "motive", DAY)
    assert after.path == before.path and after.files == before.files


def test_samsara_auth_error_message_names_provider(storage):
    with serve_in_thread(SandboxConfig(samsara_vehicles=2)) as url:
        samsara = SamsaraResource(api_key="nope", base_url=url, **FAST_RETRY)
        with pytest.raises(ProviderAuthError, match="samsara"):
            dg.materialize(PIPELINE_ASSETS[1:2], partition_key=DAY, resources=_resources(storage, samsara=samsara))
    assert not raw_day_dir(storage.raw_dir, "samsara", DAY).exists()


def test_one_vehicle_failing_stores_nothing_for_the_day(storage):
    """Motive reports a vehicle it could not fetch: storing the rest would silently lose that truck."""
    script = {"/v3/vehicle_locations/8000002": ("http_503",) * 50}
    with serve_in_thread(SandboxConfig(motive_vehicles=3, faults=FaultConfig(script=script))) as url:
        motive = MotiveResource(api_key="sandbox-motive-key", base_url=url, **FAST_RETRY)
        with pytest.raises(IncompleteFetchError, match=r"1 vehicle\(s\) could not be fetched for 2025-06-02 \(8000002\)"):
            dg.materialize(PIPELINE_ASSETS[:1], partition_key=DAY, resources=_resources(storage, motive=motive))
    assert not raw_day_dir(storage.raw_dir, "motive", DAY).exists()


def test_failed_provider_run_triggers_telemetry_rebuild_from_the_provider_that_landed(storage):
    from fleet_assets.provider_ingest.defs import provider_ingest_job, telemetry_after_provider_failure

    with serve_in_thread(SandboxConfig(motive_vehicles=3, samsara_vehicles=3)) as url, dg.instance_for_test() as instance:
        motive = MotiveResource(api_key="wrong-key", base_url=url, **FAST_RETRY)
        defs = dg.Definitions(assets=PIPELINE_ASSETS, jobs=[provider_ingest_job],
                              resources=_resources(storage, motive=motive))
        result = defs.resolve_job_def("provider_ingest_job").execute_in_process(
            partition_key=DAY, instance=instance, raise_on_error=False)
        assert not result.success
        assert "telemetry" not in _names(result, "ASSET_MATERIALIZATION")  # Dagster skipped it downstream of the failure
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="telemetry_after_provider_failure", dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=failure).for_run_failure()
        request = telemetry_after_provider_failure(context)
    assert isinstance(request, dg.RunRequest), request
    assert request.partition_key == DAY and request.run_key == f"telemetry:{DAY}:{result.run_id}"
    # What the requested run does: telemetry from Samsara alone, right away.
    assert dg.materialize([PIPELINE_ASSETS[-1]], partition_key=DAY, resources=_resources(storage)).success
    with connect_parquet(storage.root / "parquet") as con:
        assert con.execute("SELECT DISTINCT provider FROM telemetry").fetchall() == [("samsara",)]


def test_no_rebuild_when_no_provider_landed(storage):
    from fleet_assets.provider_ingest.defs import provider_ingest_job, telemetry_after_provider_failure

    with serve_in_thread(SandboxConfig(motive_vehicles=2, samsara_vehicles=2)) as url, dg.instance_for_test() as instance:
        bad = {"api_key": "wrong-key", "base_url": url, **FAST_RETRY}
        defs = dg.Definitions(assets=PIPELINE_ASSETS, jobs=[provider_ingest_job], resources=_resources(
            storage, motive=MotiveResource(**bad), samsara=SamsaraResource(**bad)))
        result = defs.resolve_job_def("provider_ingest_job").execute_in_process(
            partition_key=DAY, instance=instance, raise_on_error=False)
        failure = next(e for e in result.all_events if e.event_type_value == "PIPELINE_FAILURE")
        context = dg.build_run_status_sensor_context(
            sensor_name="telemetry_after_provider_failure", dagster_instance=instance,
            dagster_run=result.dagster_run, dagster_event=failure).for_run_failure()
        outcome = telemetry_after_provider_failure(context)
    assert isinstance(outcome, dg.SkipReason) and "no provider landed" in outcome.skip_message


def _failure_sensor_ticks(defs, instance, run):
    """Evaluate the sensor as the daemon does: a first tick sets the cursor, the next one sees the run's failure."""
    sensor = defs.resolve_sensor_def("telemetry_after_provider_failure")
    first = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    result = run()
    second = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs, cursor=first.cursor))
    return result, second


def test_rebuild_reacts_to_a_provider_failure_in_any_job(storage):
    """A UI backfill or any asset job (here: dg.materialize's ad-hoc asset job), not only provider_ingest_job."""
    from fleet_assets.provider_ingest.defs import defs as pipeline_defs

    with serve_in_thread(SandboxConfig(motive_vehicles=2, samsara_vehicles=2)) as url, dg.instance_for_test() as instance:
        motive = MotiveResource(api_key="wrong-key", base_url=url, **FAST_RETRY)
        resources = _resources(storage, motive=motive)
        defs = dg.Definitions.merge(pipeline_defs, dg.Definitions(resources=resources))
        result, tick = _failure_sensor_ticks(defs, instance, lambda: dg.materialize(
            PIPELINE_ASSETS, partition_key=DAY, resources=resources, instance=instance, raise_on_error=False))
    assert not result.success and result.dagster_run.job_name != "provider_ingest_job"
    assert [(r.partition_key, r.run_key) for r in tick.run_requests] == [(DAY, f"telemetry:{DAY}:{result.run_id}")]


def test_no_rebuild_when_the_failed_step_is_not_a_provider_step(storage):
    """A run whose providers all landed but which failed elsewhere is not a provider outage: nothing to union."""
    from fleet_assets.partitions import daily_partitions
    from fleet_assets.provider_ingest.defs import defs as pipeline_defs

    @dg.asset(partitions_def=daily_partitions, deps=["telemetry"])
    def downstream_that_fails() -> None:
        raise RuntimeError("not a provider problem")

    resources = _resources(storage)
    defs = dg.Definitions.merge(pipeline_defs, dg.Definitions(assets=[downstream_that_fails], resources=resources))
    with dg.instance_for_test() as instance:
        result, tick = _failure_sensor_ticks(defs, instance, lambda: dg.materialize(
            [*PIPELINE_ASSETS, downstream_that_fails], partition_key=DAY, resources=resources, instance=instance,
            raise_on_error=False))
    assert not result.success
    assert tick.run_requests == [] and "no provider step failed" in tick.skip_message
