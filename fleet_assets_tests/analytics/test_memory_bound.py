"""Peak memory of the analytics upload does not grow with the day: a day of 10 shards vs a day of 2 shards.

Each upload runs in its own subprocess against a loopback sandbox backend with the PostgreSQL ledger (the
deployed one; the embedded DuckDB ledger keeps its own row cache in the process). The child resets its peak
RSS after the imports (``/proc/self/clear_refs``), so the peak measured is the upload's. Measured (2 cores,
loaded): one-shard day (20,000 rows) +121 MB, 10x day in 10 shards +143 MB, the same 10x day as one shard
(the old whole-day upload) +219 MB, i.e. 98 MB over the one-shard day, which fails MARGIN_MB. Since shard
k+1 is built while shard k is sent, two shards are in memory from a 2-shard day on (one-shard day +109 MB,
10x day +167 MB, measured): the 10x day is compared with the 2-shard day, where that steady state begins.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from fleet_assets.analytics.ledger import MEMORY_LIMIT
from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.parquet_partitions import write_partition
from fleet_assets.trips.edge_schemas import EDGE_DTCS_SCHEMA, EDGE_EVENTS_SCHEMA

SHARD = 20_000                # input rows per shard (--shard-rows in the child)
ROWS_PER_VEHICLE = 500        # 250 telemetry rows + 250 edge events
MARGIN_MB = 50                # allowed peak growth of the 10x day over the one-shard day

CHILD = """
import json, logging, sys
from fleet_assets.analytics.day_shards import stored_day
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.wiring import open_upload
from fleet_assets.storage.layout import DataLayout
layout = DataLayout.from_settings(sys.argv[1])
settings = UploadSettings(endpoint=sys.argv[2], shard_rows=int(sys.argv[4]))
def upload(day, shard_rows):
    with stored_day(layout.dataset, day, shard_rows) as shards, \\
            open_upload(settings, layout, logging.getLogger("child")) as up:
        report = up.uploader.upload(day, shards)
    return len(shards), sum(report.records_sent.values())
def rss_kb(field):
    return int(next(l for l in open("/proc/self/status") if l.startswith(field)).split()[1])
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current RSS: the imports' transient peak is not the day's
base = rss_kb("VmRSS:")
shards, sent = upload(sys.argv[3], settings.shard_rows)
print(json.dumps({"base_kb": base, "peak_kb": rss_kb("VmHWM:"),
                  "shards": shards, "sent": sent}))
"""


def write_day(storage, day: str, vehicles: int) -> int:
    t0 = datetime.fromisoformat(day).replace(tzinfo=UTC)
    half = ROWS_PER_VEHICLE // 2
    tel, ev = [], []
    for v in range(vehicles):
        vin = f"1FMEM{v:012d}"
        for i in range(half):
            ts = t0 + timedelta(seconds=60 * i + v % 60)
            tel.append({"provider": "motive", "provider_vehicle_id": str(v), "vin": vin, "timestamp": ts,
                        "latitude": 40 + i / 1e4, "longitude": -90 - v / 1e3, "speed_mph": float(i % 70),
                        "heading_degrees": float(i % 360), "engine_state": "On"})
            ev.append({"vin": vin, "trip_id": f"trip-{v}", "seq": i, "ts": ts, "lat": 40.0, "lon": -90.0,
                       "speed_kph": float(i % 120), "clock_skew": False})
    write_partition(storage.dataset("telemetry"), day, pa.Table.from_pylist(tel, schema=TELEMETRY_SCHEMA))
    write_partition(storage.dataset("edge_events"), day, pa.Table.from_pylist(ev, schema=EDGE_EVENTS_SCHEMA))
    write_partition(storage.dataset("edge_dtcs"), day, EDGE_DTCS_SCHEMA.empty_table())
    return len(tel) + len(ev)


def peak_growth_mb(storage, url: str, day: str, shard_rows: int) -> tuple[float, dict]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(storage.root), url, day, str(shard_rows)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return (result["peak_kb"] - result["base_kb"]) / 1024, result


@pytest.mark.slow
def test_peak_memory_of_an_upload_10x_one_shard_stays_flat(storage, loopback, state_url, monkeypatch):
    monkeypatch.setenv("FLEET_STATE_URL", state_url)  # the deployed ledger (the embedded DuckDB one caches its rows)
    assert write_day(storage, "2025-06-02", 2 * SHARD // ROWS_PER_VEHICLE) == 2 * SHARD
    write_day(storage, "2025-06-03", 10 * SHARD // ROWS_PER_VEHICLE)
    backend, url = loopback()
    small, two = peak_growth_mb(storage, url, "2025-06-02", SHARD)
    large, ten = peak_growth_mb(storage, url, "2025-06-03", SHARD)
    assert two["shards"] == 2 and ten["shards"] >= 8
    assert ten["sent"] == 10 * SHARD + 2 * (10 * SHARD // ROWS_PER_VEHICLE)  # gps + signals + 2 stats/vehicle
    assert large - small < MARGIN_MB, f"peak RSS grew {large:.0f} MB (10x day) vs {small:.0f} MB (two shards)"


LEDGER_CHILD = """
import json, sys
from pathlib import Path
import duckdb
from fleet_assets.analytics.ledger import UploadLedger
path, endpoint, records = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
UploadLedger(path, endpoint).position("2025-06-01")  # creates the schema
with duckdb.connect(str(path)) as con:  # a day's acks, as the uploader's commits leave them
    con.execute("INSERT INTO upload_records SELECT $1, '2025-06-01', 'signal', (hash(i) >> 1)::BIGINT, "
                "'batch-' || (i // 50000), now() FROM range($2) t(i)", [endpoint, records])
def rss_kb(field):
    return int(next(l for l in open("/proc/self/status") if l.startswith(field)).split()[1])
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = rss_kb("VmRSS:")
position = UploadLedger(path, endpoint).position("2025-06-01")
print(json.dumps({"growth_mb": (rss_kb("VmHWM:") - base) / 1024, "acked": position.acked_records}))
"""


@pytest.mark.slow
def test_embedded_ledger_position_of_a_large_day_stays_flat(tmp_path):
    """The end-of-upload position counts a day's distinct acks in the embedded DuckDB ledger. With DuckDB's default
    memory limit (80 % of RAM) that count held the day's fingerprints in memory: +923 MB for 20M records (a 4M-event
    day), which put a 4M-event upload at 1.8 GB (benchmarks/edge_day.py). Unbounded, 8M records here took +547 MB."""
    growth = {}
    for records in (1_000_000, 8_000_000):
        out = subprocess.run([sys.executable, "-c", LEDGER_CHILD, str(tmp_path / f"ledger-{records}.duckdb"),
                              "http://analytics.invalid/graphql", str(records)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result["acked"] == records
        growth[records] = result["growth_mb"]
    limit_mb = int(MEMORY_LIMIT.removesuffix("MB"))
    assert growth[8_000_000] < limit_mb + MARGIN_MB, f"peak RSS growth by records: {growth}"
