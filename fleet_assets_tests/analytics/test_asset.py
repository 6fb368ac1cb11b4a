"""The Dagster asset end to end: Parquet partitions → loopback GraphQL backend, metadata, no secrets."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from fleet_assets.analytics.assets import analytics_upload
from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.analytics.sandbox import FaultPlan
from fleet_assets.analytics.wiring import SANDBOX_ENDPOINT

DAY = "2025-06-01"
TOKEN = "eyJhbGciOi.s3cr3t.jwt"


def _materialize(storage, analytics, instance):
    return dg.materialize([analytics_upload], partition_key=DAY, instance=instance,
                          resources={"storage": storage, "analytics": analytics}, raise_on_error=False)


def _event_text(instance, result) -> str:
    records = instance.all_logs(result.run_id)
    return "\n".join(r.message + " " + json.dumps(str(r.dagster_event)) for r in records)


def test_asset_uploads_once_with_metadata_and_never_leaks_the_token(day, storage, write_day, loopback, monkeypatch,
                                                                     caplog):
    write_day(day)
    backend, url = loopback(FaultPlan.uniform(0.2, seed=1), token=TOKEN)
    monkeypatch.setenv("SEC_AUTH_TOKEN", TOKEN)
    analytics = AnalyticsResource(endpoint=url, auth_token=dg.EnvVar("SEC_AUTH_TOKEN"), max_points_per_request=500,
                                  backoff_initial_seconds=0.001, backoff_max_seconds=0.005, max_attempts=8)
    caplog.set_level("DEBUG")
    with dg.instance_for_test() as instance:
        first = _materialize(storage, analytics, instance)
        assert first.success
        meta = first.asset_materializations_for_node("analytics_upload")[0].metadata
        second = _materialize(storage, analytics, instance)
        meta2 = second.asset_materializations_for_node("analytics_upload")[0].metadata
        logs = _event_text(instance, first) + _event_text(instance, second)

    assert backend.stored_counts() == day.expected
    assert backend.authorized_requests == sum(backend.requests.values())
    assert meta["dagster/row_count"].value == sum(day.expected.values())
    assert {k: meta[f"records_sent/{k}"].value for k in day.expected} == day.expected
    assert meta["retries"].value >= 1 and meta["requests"].value > meta["retries"].value
    assert meta["endpoint"].value == url
    assert "| gps | 1300 | 1300 | 0 |" in meta["summary"].value
    assert meta2["requests"].value == 0 and meta2["records_sent/gps"].value == 0
    assert meta["records_per_second"].value > 0 and meta2["records_per_second"].value == 0
    assert meta2["ledger_acked_batches"].value == meta["ledger_acked_batches"].value
    everything = logs + caplog.text + json.dumps({k: str(v) for k, v in {**meta, **meta2}.items()})
    assert TOKEN not in everything and "s3cr3t" not in everything


def test_missing_upstream_partitions_mean_nothing_to_send(storage):
    with dg.instance_for_test() as instance:
        result = _materialize(storage, AnalyticsResource(), instance)
    assert result.success
    meta = result.asset_materializations_for_node("analytics_upload")[0].metadata
    assert meta["endpoint"].value == SANDBOX_ENDPOINT
    assert meta["dagster/row_count"].value == 0 and meta["requests"].value == 0


def test_asset_failure_is_loud_and_resumable(day, storage, write_day, loopback):
    write_day(day)
    backend, url = loopback(FaultPlan(http_500=1.0))
    flaky = AnalyticsResource(endpoint=url, max_attempts=2, backoff_initial_seconds=0.001, backoff_max_seconds=0.002)
    with dg.instance_for_test() as instance:
        failed = _materialize(storage, flaky, instance)
        assert not failed.success
        failure = [e for e in failed.all_events if e.is_step_failure][0]
        assert "backend answered HTTP 500 (gave up after 2 attempts)" in str(failure.step_failure_data.error)
        backend.faults = FaultPlan()
        assert _materialize(storage, flaky, instance).success
    assert backend.stored_counts() == day.expected


def test_resource_rejects_ids_outside_graphql_int():
    with pytest.raises(Exception, match="less than or equal to 2147483647"):
        AnalyticsResource(fleet_id=2**31)


def test_asset_is_in_the_code_location_without_a_pool():
    from fleet_assets.definitions import defs

    spec = defs.resolve_assets_def("analytics_upload")
    assert spec.partitions_def is not None
    assert {k.to_user_string() for k in spec.asset_deps[dg.AssetKey("analytics_upload")]} >= {
        "telemetry", "edge_events", "edge_dtcs"}
    assert spec.op.pool is None  # runs of different days must not queue behind each other (issue 12 item 19)


def test_from_env_binds_env_vars_without_reading_secrets_into_config(monkeypatch):
    monkeypatch.setenv("SEC_AUTH_TOKEN", TOKEN)
    monkeypatch.delenv("GRAPH_SERVICE_URL", raising=False)
    monkeypatch.setenv("GRAPH_ENDPOINT", "https://analytics.example.test/graphql")
    resource = AnalyticsResource.from_env()
    assert TOKEN not in repr(resource)  # an EnvVar reference, resolved only at run start
    assert resource.auth_token == dg.EnvVar("SEC_AUTH_TOKEN")
    assert resource.endpoint == dg.EnvVar("GRAPH_ENDPOINT")
    monkeypatch.delenv("SEC_AUTH_TOKEN")
    monkeypatch.delenv("GRAPH_ENDPOINT")
    bare = AnalyticsResource.from_env()
    assert bare.auth_token is None and bare.endpoint is None
    assert AnalyticsResource(endpoint="https://u:pw@h.test/graphql?k=1").endpoint_label == "https://h.test/graphql"
