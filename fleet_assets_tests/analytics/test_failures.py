"""Failure modes: clear errors, nothing lost, ledger consistent with what the backend holds."""

from __future__ import annotations

import gc
import subprocess
import sys

import duckdb
import pyarrow as pa
import pytest

from fleet_assets.analytics.ledger import LedgerLockedError, UploadLedger
from fleet_assets.analytics.records import AnalyticsInputError
from fleet_assets.analytics.sandbox import AnalyticsSandbox, FaultPlan
from fleet_assets.analytics.sender import GraphQLSender, RetryPolicy
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.uploader import PartitionData, PartitionUploader, UploadIncompleteError

DAY = "2025-06-01"


def _ledger_matches_backend(ledger: UploadLedger, backend: AnalyticsSandbox) -> None:
    assert ledger.position(DAY).acked_records == sum(backend.stored_counts().values())


def test_persistent_http_500_fails_loudly_then_resumes(day, run_upload):
    backend = AnalyticsSandbox()
    run_upload(backend, PartitionData(telemetry=day.data.telemetry), max_points_per_request=400)  # some acked
    backend.faults = FaultPlan(http_500=1.0)
    with pytest.raises(UploadIncompleteError) as err:
        run_upload(backend, day.data, retry=RetryPolicy(3, 0.001, 0.002))
    message = str(err.value)
    assert "backend answered HTTP 500" in message and "gave up after 3 attempts" in message
    assert "re-running the partition sends exactly the unacknowledged batches" in message
    assert gc.isenabled()  # the upload pauses the cyclic GC and restores it, on failure too
    _ledger_matches_backend(run_upload.ledger(), backend)

    backend.faults = FaultPlan()
    report = run_upload(backend, day.data)
    assert backend.stored_counts() == day.expected
    assert report.records_sent["gps"] == 0  # acknowledged GPS was not sent again
    assert sum(backend.duplicate_deliveries.values()) == 0


def test_persistent_graphql_errors_fail_without_dead_lettering(day, run_upload):
    backend = AnalyticsSandbox(FaultPlan(graphql_error=1.0))
    with pytest.raises(UploadIncompleteError, match="injected internal error"):
        run_upload(backend, day.data, retry=RetryPolicy(2, 0.001, 0.002))
    # A server-side error is not the record's fault: nothing is dead-lettered, nothing acked, nothing stored.
    assert run_upload.ledger().position(DAY).dead_lettered == 0
    assert sum(backend.stored_counts().values()) == 0
    _ledger_matches_backend(run_upload.ledger(), backend)


def test_real_timeouts_on_loopback_are_retried(day, storage, loopback):
    backend, url = loopback(FaultPlan(seed=5, timeout=0.3, hang_seconds=0.6))
    ledger = UploadLedger(storage.ledger_path, url)
    small = PartitionData(telemetry=day.data.telemetry.slice(0, 400))
    with GraphQLSender(url, timeout_seconds=0.2, retry=RetryPolicy(10, 0.001, 0.002)) as sender:
        report = PartitionUploader(sender, ledger, UploadSettings(max_points_per_request=100)).upload(DAY, small)
    assert backend.stats()["faults_injected"]["timeout"] >= 1
    assert report.retries >= backend.stats()["faults_injected"]["timeout"]
    assert backend.stored_counts()["gps"] == 400
    _ledger_matches_backend(ledger, backend)


def test_timeouts_exhausted_give_a_clear_error(day, storage, loopback):
    backend, url = loopback(FaultPlan(timeout=1.0, hang_seconds=0.4))
    ledger = UploadLedger(storage.ledger_path, url)
    with GraphQLSender(url, timeout_seconds=0.1, retry=RetryPolicy(2, 0.001, 0.002)) as sender:
        with pytest.raises(UploadIncompleteError, match=r"request timed out: ReadTimeout \(gave up after 2"):
            PartitionUploader(sender, ledger, UploadSettings()).upload(DAY, day.data)
    assert ledger.position(DAY).acked_records == 0 == sum(backend.stored_counts().values())


def test_wrong_token_is_an_auth_error_not_retried(day, storage, loopback):
    backend, url = loopback(token="right-token")
    ledger = UploadLedger(storage.ledger_path, url)
    with GraphQLSender(url, token="wrong-token", retry=RetryPolicy(5, 0.001, 0.002)) as sender:
        with pytest.raises(UploadIncompleteError, match="refused credentials \\(HTTP 401\\); check SEC_AUTH_TOKEN"):
            PartitionUploader(sender, ledger, UploadSettings()).upload(DAY, day.data)
        assert sender.stats.requests == 1
    assert sum(backend.stored_counts().values()) == 0


@pytest.mark.parametrize("dataset,drop", [("telemetry", "latitude"), ("edge_events", "rpm"), ("edge_dtcs", "code")])
def test_bad_input_is_rejected_before_anything_is_sent_or_recorded(day, run_upload, dataset, drop):
    table: pa.Table = getattr(day.data, dataset)
    broken = PartitionData(**{**day.data.__dict__, dataset: table.drop_columns([drop])})
    backend = AnalyticsSandbox()
    with pytest.raises(AnalyticsInputError, match=rf"{dataset} partition is missing columns \['{drop}'\]"):
        run_upload(backend, broken)
    assert sum(backend.requests.values()) == 0
    ledger_file = run_upload.ledger().path
    assert not ledger_file.exists()  # not even the ledger was created


def test_ids_outside_graphql_int_fail_before_any_request(day, run_upload):
    backend = AnalyticsSandbox()
    with pytest.raises(UploadIncompleteError, match=r"invalid value 2147483648 at 'input\d*\.fleetId'"):
        # GraphQL Int is 32-bit signed. UploadSettings bounds fleet_id (the resource and the CLI refuse it); this
        # checks the sender's own pre-flight validation behind that, so the bound is bypassed on purpose.
        run_upload(backend, day.data, fleet_id=2**31)
    assert sum(backend.requests.values()) == 0
    assert run_upload.ledger().position(DAY).acked_records == 0


def test_ledger_locked_by_another_process_is_waited_for_then_reported(tmp_path):
    path = tmp_path / "ledger.duckdb"
    UploadLedger(path, "x").ensure()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(30)"),
        str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(LedgerLockedError, match="is locked by another process for more than 0s"):
            UploadLedger(path, "x", lock_timeout_seconds=0.3).position(DAY)
    finally:
        holder.kill()
        holder.wait()
    assert UploadLedger(path, "x", lock_timeout_seconds=5).position(DAY).acked_records == 0
    duckdb.connect(str(path)).close()
