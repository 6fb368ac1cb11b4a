"""The uploader's bounded window of outstanding requests: real threads, counted at the transport."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from fleet_assets.analytics.sandbox import AnalyticsSandbox, AnalyticsSandboxTransport, FaultPlan
from fleet_assets.analytics.sender import GraphQLSender
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.uploader import PartitionUploader

from .conftest import DAY, FAST_RETRY


class CountingTransport(httpx.BaseTransport):
    """Wraps the sandbox transport; records the most requests that were ever outstanding at once."""

    def __init__(self, backend: AnalyticsSandbox, delay: float):
        self.inner = AnalyticsSandboxTransport(backend)
        self.delay = delay
        self.outstanding = 0
        self.max_outstanding = 0
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self.outstanding)
            self.threads.add(threading.current_thread().name)
        try:
            time.sleep(self.delay)  # network + backend latency, so requests can overlap
            return self.inner.handle_request(request)
        finally:
            with self._lock:
                self.outstanding -= 1


def _upload(open_ledger, data, transport, window):
    ledger = open_ledger("sandbox://test")
    settings = UploadSettings(max_points_per_request=100, max_in_flight=window)
    with GraphQLSender("http://sandbox.test/graphql", httpx_transport=transport, retry=FAST_RETRY) as sender:
        return PartitionUploader(sender, ledger, settings).upload(DAY, data), ledger


@pytest.mark.parametrize("window,ledger_store", [(1, "embedded"), (3, "embedded"), (3, "postgres")],
                         indirect=["ledger_store"])
def test_window_bounds_outstanding_requests_and_delivers_exactly_once(day, ledger_store, window):
    backend = AnalyticsSandbox()
    transport = CountingTransport(backend, delay=0.05)  # longer than a ledger commit (~25 ms), so the window fills
    report, ledger = _upload(ledger_store, day.data, transport, window)

    assert transport.max_outstanding == window  # overlapped when allowed, never more than allowed
    assert backend.stored_counts() == day.expected
    assert sum(backend.duplicate_deliveries.values()) == 0
    assert report.batches_completed == report.batches_planned
    assert ledger.position(DAY).acked_records == sum(day.expected.values())


def test_window_under_faults_loses_nothing_and_a_rerun_sends_nothing(day, ledger_store):
    backend = AnalyticsSandbox(FaultPlan.uniform(0.2, seed=11, hang_seconds=0.0))
    report, ledger = _upload(ledger_store, day.data, CountingTransport(backend, delay=0.002), 3)
    assert backend.stored_counts() == day.expected
    assert report.retries > 0
    data_fields = ("upsertGpsData", "upsertSignalData", "upsertDtcData", "createNetworkStats")
    before = {f: backend.requests[f] for f in data_fields}
    again, _ = _upload(ledger_store, day.data, CountingTransport(backend, delay=0.0), 3)
    assert sum(again.records_sent.values()) == 0
    assert {f: backend.requests[f] for f in data_fields} == before  # the re-run sent no data request
    assert backend.stored_counts() == day.expected
