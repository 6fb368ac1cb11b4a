"""Exactly-once under injected faults, counted at the backend (in-process sandbox over httpx)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pyarrow as pa

from fleet_assets.schema import TELEMETRY_SCHEMA

from fleet_assets.analytics.sandbox import AnalyticsSandbox, FaultPlan
from fleet_assets.analytics.uploader import PartitionData

from .conftest import BOTH_LEDGERS


@BOTH_LEDGERS
def test_twenty_percent_faults_deliver_every_row_once(day, run_upload):
    backend = AnalyticsSandbox(FaultPlan.uniform(0.20, seed=7))
    report = run_upload(backend, day.data, max_points_per_request=100)

    assert backend.stored_counts() == day.expected
    injected = backend.stats()["faults_injected"]
    assert sum(injected.values()) >= 10, injected  # the faults really happened
    assert report.retries == sum(injected.values())
    # Re-deliveries only come from "committed, then failed" responses: the one unavoidable window,
    # absorbed by the backend's upsert (stored counts above are exact).
    redelivered_requests = injected.get("commit_then_500", 0)
    assert sum(backend.duplicate_deliveries.values()) <= redelivered_requests * 100
    assert report.position.acked_records == sum(day.expected.values())
    assert report.dead_lettered == 0


def test_without_commit_faults_nothing_is_delivered_twice(day, run_upload):
    backend = AnalyticsSandbox(FaultPlan(seed=3, http_500=0.1, graphql_error=0.1, timeout=0.1))
    run_upload(backend, day.data, max_points_per_request=300)
    assert backend.stored_counts() == day.expected
    assert sum(backend.duplicate_deliveries.values()) == 0
    assert sum(backend.points_received.values()) == sum(day.expected.values())


def test_rerun_sends_nothing_and_creates_no_configuration(day, run_upload):
    backend = AnalyticsSandbox()
    first = run_upload(backend, day.data)
    configs_before = backend.configuration_count
    requests_before = sum(backend.requests.values())

    second = run_upload(backend, day.data)

    assert first.configurations_created == configs_before == 5
    assert second.requests == 0 and sum(backend.requests.values()) == requests_before
    assert second.records_sent == {"gps": 0, "signal": 0, "dtc": 0, "network_stats": 0}
    assert second.already_acknowledged == day.expected
    assert backend.configuration_count == configs_before


def test_changed_partition_sends_only_new_or_corrected_rows(day, run_upload):
    backend = AnalyticsSandbox()
    run_upload(backend, day.data)
    received = sum(backend.points_received.values())

    rows = day.data.telemetry.to_pylist()
    extra = [{**r, "timestamp": r["timestamp"] + timedelta(microseconds=1)} for r in rows[:3]]
    rows[3] = {**rows[3], "latitude": 12.5}
    changed = pa.Table.from_pylist(extra + rows, schema=TELEMETRY_SCHEMA)
    report = run_upload(backend, PartitionData(changed, day.data.edge_events, day.data.edge_dtcs))

    # 3 new points + 1 corrected point (upserted in place); network stats of that vehicle changed (+3 rows).
    assert report.records_sent["gps"] == 4
    assert report.records_sent["network_stats"] == 1
    assert report.records_sent["signal"] == report.records_sent["dtc"] == 0
    assert backend.stored_counts()["gps"] == day.expected["gps"] + 3
    assert sum(backend.points_received.values()) == received + 5
    assert any(v[0] == 12.5 for v in backend.data.rows["gps"].values())


@BOTH_LEDGERS
def test_poisoned_record_is_dead_lettered_and_the_rest_delivered(day, run_upload):
    backend = AnalyticsSandbox(FaultPlan(seed=11, poison_rate=0.002))
    report = run_upload(backend, day.data, max_points_per_request=500)

    dead = run_upload.ledger().dead_letter_rows("2025-06-01")
    assert report.dead_lettered == len(dead) >= 1
    assert all("poisoned record" in row["error"] for row in dead)
    stored = backend.stored_counts()
    for kind, expected in day.expected.items():
        assert stored[kind] + sum(1 for r in dead if r["kind"] == kind) == expected
    # Re-running does not resend the dead letters nor anything acknowledged.
    again = run_upload(backend, day.data)
    assert again.requests == 0
    # Once the backend is fixed, requeued dead letters (and only they) are sent.
    backend.faults = FaultPlan()
    assert run_upload.ledger().requeue_dead_letters("2025-06-01") == len(dead)
    fixed = run_upload(backend, day.data)
    assert sum(fixed.records_sent.values()) == len(dead) and fixed.dead_lettered == 0
    assert backend.stored_counts() == day.expected


@dataclass(frozen=True)
class PoisonOneGpsPointAndSamsaraStats(FaultPlan):
    """Rejects exactly one GPS point (vehicle 3's first) and the Samsara truck's network stats."""

    def is_poisoned(self, kind: str, key: tuple) -> bool:
        return (kind == "gps" and key[1] == "2025-06-01T00:00:03.000000Z") or (
            kind == "network_stats" and key[1] == "samsara")


def test_coalesced_request_with_a_rejected_field_acknowledges_the_committed_fields(day, run_upload):
    backend = AnalyticsSandbox(PoisonOneGpsPointAndSamsaraStats())
    report = run_upload(backend, day.data, coalesce_mutations=True)

    dead = run_upload.ledger().dead_letter_rows("2025-06-01")
    assert sorted(r["kind"] for r in dead) == ["gps", "network_stats"]
    assert report.dead_lettered == 2
    # The fields that answered with data were committed and recorded, never sent again: no duplicates.
    assert sum(backend.duplicate_deliveries.values()) == 0
    stored = backend.stored_counts()
    assert stored == {**day.expected, "gps": day.expected["gps"] - 1,
                      "network_stats": day.expected["network_stats"] - 1}
    assert run_upload.ledger().position("2025-06-01").acked_records == sum(stored.values())
    # One coalesced request for all network stats, the failed field alone (rejected again: dead-lettered),
    # then the fields after it, which never ran, together.
    assert backend.requests["createNetworkStats"] <= 3


def test_backend_alias_limit_splits_coalesced_documents_and_loses_nothing(day, run_upload):
    backend = AnalyticsSandbox(max_aliases=2)  # a gateway far stricter than the uploader's setting
    report = run_upload(backend, day.data, coalesce_mutations=True, max_aliases_per_request=15)

    assert backend.faults_injected["too_many_aliases"] >= 1  # the limit was hit...
    assert backend.stored_counts() == day.expected  # ...and every record still arrived, once
    assert sum(backend.duplicate_deliveries.values()) == 0
    assert report.dead_lettered == 0
    assert backend.configuration_count == 5  # each vehicle's configuration created once
    assert run_upload.ledger().position("2025-06-01").acked_records == sum(day.expected.values())

