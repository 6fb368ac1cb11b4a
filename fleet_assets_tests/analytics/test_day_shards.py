"""A day split into shards of whole vehicles yields exactly the records of the whole day."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pyarrow as pa
import pytest

from fleet_assets.analytics.day_shards import stored_day
from fleet_assets.analytics.ledger import UploadLedger
from fleet_assets.analytics.ledger_queries import Ledger
from fleet_assets.analytics.records import AnalyticsInputError
from fleet_assets.analytics.sandbox import AnalyticsSandbox, AnalyticsSandboxTransport, FaultPlan
from fleet_assets.analytics.sender import GraphQLSender, RetryPolicy
from fleet_assets.analytics.upload_report import UploadReport
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.uploader import PartitionUploader, UploadIncompleteError
from fleet_assets.storage.parquet_partitions import write_partition

from .conftest import DAY


def _planned(shards) -> dict[str, list[int]]:
    """Sorted fingerprints (key + payload of every record) the upload would send, per kind."""
    with tempfile.TemporaryDirectory() as tmp, GraphQLSender(
            "http://sandbox.test/graphql", httpx_transport=AnalyticsSandboxTransport(AnalyticsSandbox())) as sender:
        uploader = PartitionUploader(sender, UploadLedger(Path(tmp) / "l.duckdb", "sandbox://t"), UploadSettings())
        uploader.ledger.ensure()
        plan = uploader.plan(DAY, shards, UploadReport(partition_key=DAY, endpoint="sandbox://t"))
    return {kind: sorted(i.fingerprint for b in batches for i in b.items) for kind, batches in plan.items()}


def test_sharded_day_plans_exactly_the_records_of_the_whole_day(day, storage, write_day):
    # Reverse the edge events so a vehicle's rows are scattered over the record batches the spill reads.
    write_day(day)
    write_partition(storage.dataset("edge_events"), DAY, day.data.edge_events.take(
        pa.array(range(day.data.edge_events.num_rows - 1, -1, -1))))
    whole = _planned(day.data)
    for shard_rows in (150, 400):
        with stored_day(storage.dataset, DAY, shard_rows) as shards:
            assert len(shards) > 4
            vehicles = [set(s.telemetry["vin"].drop_null().to_pylist()) | set(s.edge_events["vin"].to_pylist())
                        for s in shards]
            assert sum(map(len, vehicles)) == len(set().union(*vehicles))  # whole vehicles: none in two shards
            assert _planned(shards) == whole
    assert {kind: len(fps) for kind, fps in whole.items()} == day.expected


def test_a_partition_missing_a_column_fails_before_anything_is_read(day, storage, write_day):
    write_day(day)
    write_partition(storage.dataset("edge_events"), DAY, day.data.edge_events.drop_columns(["rpm"]))
    with pytest.raises(AnalyticsInputError, match=r"edge_events partition is missing columns \['rpm'\]"):
        with stored_day(storage.dataset, DAY, 400):
            pass


def test_a_resumed_sharded_day_asks_the_ledger_per_shard_and_resends_nothing_acknowledged(
        day, storage, write_day, run_upload, monkeypatch):
    """Resume of a partly-sent day: the ledger is asked per shard (bounded by the shard, not the day's acks).

    The PostgreSQL ledger answers the same question with the same SQL (test_ledger_stores)."""
    write_day(day)
    backend = AnalyticsSandbox()
    commits = []

    def stop_after_some(kind: str, records: int) -> None:  # the backend fails every request after 10 commits
        commits.append(records)
        if len(commits) == 10:
            backend.faults = FaultPlan(http_500=1.0)

    backend.on_commit = stop_after_some
    with stored_day(storage.dataset, DAY, 400) as shards, pytest.raises(UploadIncompleteError):
        run_upload(backend, shards, retry=RetryPolicy(2, 0.001, 0.002), max_points_per_request=500)
    acked = run_upload.ledger().position(DAY).acked_records
    assert acked == sum(commits) > 0 and acked < sum(day.expected.values())

    answers: list[int] = []
    among = Ledger.resolved_among

    def spy(self, partition_key, kind, fingerprints):
        found = among(self, partition_key, kind, fingerprints)
        assert len(found) <= len(fingerprints)
        answers.append(len(found))
        return found

    def whole_day(*_args):
        raise AssertionError("the day's resolved fingerprints were loaded at once")

    monkeypatch.setattr(Ledger, "resolved_among", spy)
    monkeypatch.setattr(Ledger, "resolved_fingerprints", whole_day)
    backend.faults, backend.on_commit = FaultPlan(), None
    with stored_day(storage.dataset, DAY, 400) as shards:
        assert len(shards) > 4
        report = run_upload(backend, shards, max_points_per_request=500)
    assert backend.stored_counts() == day.expected
    assert sum(backend.duplicate_deliveries.values()) == 0  # nothing acknowledged was sent again
    assert sum(report.already_acknowledged.values()) == acked
    assert max(answers) < acked and sum(1 for found in answers if found) >= 2  # per shard, never the whole day
