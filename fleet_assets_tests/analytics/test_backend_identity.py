"""Issue 12 items 1 and 10: acks and ids belong to a backend identity; a backend that forgot its ids, was
reset, or is reached by another URL is handled without dead-lettering or re-sending by accident."""

from __future__ import annotations

from collections import Counter

import dagster as dg
import pyarrow.compute as pc
import pytest

from fleet_assets.analytics.assets import analytics_upload
from fleet_assets.analytics.ledger import backend_identity, normalise_endpoint
from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.analytics.sandbox import AnalyticsSandbox, FaultPlan
from fleet_assets.analytics.uploader import PartitionData, UploadIncompleteError

from .conftest import BOTH_LEDGERS, make_day, vin

DAY1, DAY2 = "2025-06-01", "2025-06-02"


def _small(key: str):
    return make_day(key, points=40, events=30, dtcs=3)


def _gps_per_configuration(backend: AnalyticsSandbox) -> list[int]:
    return sorted(Counter(cid for cid, _time in backend.data.rows["gps"]).values())


@BOTH_LEDGERS
def test_backend_that_forgot_its_ids_is_re_resolved_not_bisected(run_upload):
    day1, day2 = _small(DAY1), _small(DAY2)
    backend = AnalyticsSandbox()
    run_upload(backend, day1.data, key=DAY1)
    backend.reset()  # e.g. restarted without persistence: every configuration/message id it issued is gone
    report = run_upload(backend, day2.data, key=DAY2)

    assert report.dead_lettered == 0 and run_upload.ledger().position(DAY2).dead_lettered == 0
    assert backend.stored_counts() == day2.expected
    assert report.requests < 20  # re-resolved once, not bisected record by record


def test_reset_backend_issuing_a_cached_id_to_a_new_vehicle_never_mixes_vehicles(run_upload):
    """A fresh backend gives a new vehicle id 1, which the ledger holds for another vehicle: sending on would
    attach that vehicle's points to the new one's configuration."""
    day1, day2 = _small(DAY1), _small(DAY2)
    telemetry = day1.data.telemetry
    without_last = telemetry.filter(pc.invert(pc.equal(telemetry["vin"], vin(3))).fill_null(True))
    run_upload(backend := AnalyticsSandbox(), PartitionData(without_last, day1.data.edge_events,
                                                             day1.data.edge_dtcs), key=DAY1)
    backend.reset()
    report = run_upload(backend, day2.data, key=DAY2)

    assert report.dead_lettered == 0
    assert backend.stored_counts() == day2.expected
    assert _gps_per_configuration(backend) == sorted([40] * 4 + [13])  # each vehicle on its own configuration


def test_a_backend_refusing_everything_stops_at_the_dead_letter_limit(run_upload):
    day = _small(DAY1)
    backend = AnalyticsSandbox(FaultPlan(poison_rate=1.0))
    with pytest.raises(UploadIncompleteError, match=r"more than 5 records rejected in this run \(max_dead_letters"):
        run_upload(backend, day.data, key=DAY1, max_dead_letters=5)
    assert run_upload.ledger().position(DAY1).dead_lettered <= 5
    assert sum(backend.requests.values()) < 60


def test_endpoint_normalisation_and_explicit_identity():
    assert normalise_endpoint("HTTP://Analytics.Example:80/graphql/") == "http://analytics.example/graphql"
    assert normalise_endpoint("https://u:pw@a.example:443/g?k=1#f") == "https://a.example/g"
    assert normalise_endpoint("http://[::1]:8701/graphql") == "http://[::1]:8701/graphql"
    assert normalise_endpoint("http://localhost:8701/graphql") != normalise_endpoint("http://127.0.0.1:8701/graphql")
    assert backend_identity("http://localhost:8701/graphql", backend_id=" prod ") == "prod"
    assert backend_identity("http://h/graphql/", generation="2026-12-01") == "http://h/graphql#2026-12-01"


def _materialize(storage, analytics, instance, key=DAY1):
    result = dg.materialize([analytics_upload], partition_key=key, instance=instance,
                            resources={"storage": storage, "analytics": analytics}, raise_on_error=False)
    assert result.success
    return result.asset_materializations_for_node("analytics_upload")[0].metadata


def test_same_backend_by_another_url_with_one_backend_id_sends_nothing_twice(storage, write_day, loopback):
    day = _small(DAY1)
    write_day(day, DAY1)
    backend, url = loopback()
    with dg.instance_for_test() as instance:
        first = _materialize(storage, AnalyticsResource(endpoint=url, backend_id="analytics-lab"), instance)
        again = _materialize(storage, AnalyticsResource(endpoint=url.replace("127.0.0.1", "localhost"),
                                                        backend_id="analytics-lab"), instance)
    assert first["backend_id"].value == again["backend_id"].value == "analytics-lab"
    assert again["requests"].value == 0 and sum(backend.duplicate_deliveries.values()) == 0
    assert backend.stored_counts() == day.expected


@BOTH_LEDGERS
def test_declaring_a_reset_backend_sends_everything_again(storage, write_day, loopback, ledger_store):
    day = _small(DAY1)
    write_day(day, DAY1)
    backend, url = loopback()
    with dg.instance_for_test() as instance:
        _materialize(storage, AnalyticsResource(endpoint=url), instance)
        backend.reset()  # the backend was wiped
        quiet = _materialize(storage, AnalyticsResource(endpoint=url), instance)
        assert quiet["requests"].value == 0 and backend.stored_counts()["gps"] == 0  # the ledger can't know
        resent = _materialize(storage, AnalyticsResource(endpoint=url, backend_generation="wiped-2026-12-01"),
                              instance)
    assert resent["backend_id"].value == f"{normalise_endpoint(url)}#wiped-2026-12-01"
    # The store the asset chose (FLEET_STATE_URL set or not), shown without a password.
    expected = ledger_store(normalise_endpoint(url)).location
    assert resent["ledger"].value == expected and (expected.startswith("postgres postgresql://")
                                                   == bool(ledger_store.state_url))
    assert ledger_store(resent["backend_id"].value).position(DAY1).acked_records == sum(day.expected.values())
    assert backend.stored_counts() == day.expected and resent["dead_lettered"].value == 0
