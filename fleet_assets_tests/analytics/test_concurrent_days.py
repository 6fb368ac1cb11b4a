"""Issue 12 item 19: uploads of different days run together in separate processes over ONE ledger.

The ledger is locked only for its short reads and commits, so neither upload waits for the other to finish,
and both are still delivered exactly once. Issue 10: the same with the ledger in PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from fleet_assets.analytics.ledger import normalise_endpoint
from fleet_assets.analytics.sandbox import AnalyticsSandbox, serve_in_thread

from .conftest import BOTH_LEDGERS, make_day

DAYS = ("2025-06-01", "2025-06-02")


@BOTH_LEDGERS  # with "postgres", both CLI processes inherit FLEET_STATE_URL: one shared Postgres ledger
def test_two_days_upload_concurrently_in_two_processes_exactly_once(storage, write_day, ledger_store):
    days = {key: make_day(key, points=200, events=120, dtcs=4) for key in DAYS}
    for key, d in days.items():
        write_day(d, key)
    backend = AnalyticsSandbox()
    timeline: list[tuple[float, str]] = []
    handle = backend.handle

    def slow_recording_handle(body: bytes, headers):
        response = handle(body, headers)
        day = next((key for key in DAYS if key.encode() in body), None)
        if day and b"upsert" in body:
            timeline.append((time.monotonic(), day))
            time.sleep(0.05)  # a backend that takes its time: a serialised second upload would wait it all out
        return response

    backend.handle = slow_recording_handle
    with serve_in_thread(backend) as url:
        procs = [subprocess.Popen([sys.executable, "-m", "fleet_assets.analytics.cli", "--date", key, "--endpoint",
                                   url, "--data-dir", str(storage.root), "--max-points", "60", "--json", "-q"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for key in DAYS]
        outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    reports = {json.loads(out)["partition_key"]: json.loads(out) for out, _err in outputs}

    # Interleaved on the wire: each day's data requests started before the other day's finished.
    spans = {key: (min(t for t, d in timeline if d == key), max(t for t, d in timeline if d == key)) for key in DAYS}
    assert spans[DAYS[0]][0] < spans[DAYS[1]][1] and spans[DAYS[1]][0] < spans[DAYS[0]][1], spans
    # Exactly once, both days, one ledger.
    assert backend.stored_counts() == {k: sum(d.expected[k] for d in days.values()) for k in days[DAYS[0]].expected}
    assert sum(backend.duplicate_deliveries.values()) == 0
    ledger = ledger_store(normalise_endpoint(url))
    for key, d in days.items():
        assert reports[key]["records_sent"] == d.expected
        assert ledger.position(key).acked_records == sum(d.expected.values())
    assert backend.configuration_count == 5  # the shared vehicles' configurations were created once
    assert storage.ledger_path.exists() == (ledger_store.state_url is None)  # the store FLEET_STATE_URL chose


def test_two_days_on_the_embedded_backend_in_two_processes_share_one_store(storage, write_day):
    """The embedded default (no endpoint): both processes write the same SQLite store and ledger at once."""
    from fleet_assets.analytics.wiring import SANDBOX_STORE

    days = {key: make_day(key, points=120, events=60, dtcs=3) for key in DAYS}
    for key, d in days.items():
        write_day(d, key)
    env = {k: v for k, v in os.environ.items() if k not in ("GRAPH_SERVICE_URL", "GRAPH_ENDPOINT")}
    procs = [subprocess.Popen([sys.executable, "-m", "fleet_assets.analytics.cli", "--date", key, "--data-dir",
                               str(storage.root), "--max-points", "40", "--json", "-q"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for key in DAYS]
    outputs = [p.communicate(timeout=180) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        report = json.loads(out)
        assert report["records_sent"] == days[report["partition_key"]].expected and report["dead_lettered"] == 0
    store = AnalyticsSandbox(store_path=str(storage.root / SANDBOX_STORE))
    try:
        assert store.stored_counts() == {k: sum(d.expected[k] for d in days.values())
                                         for k in days[DAYS[0]].expected}
        assert store.configuration_count == 5  # issued once across both processes
    finally:
        store.close()
