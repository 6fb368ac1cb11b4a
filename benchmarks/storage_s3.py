#!/usr/bin/env python
"""Benchmark: write and read one 5M-row telemetry day, local disk vs S3 (moto_server on loopback), side by side.

Both sides run the platform's own code in this one process, alternating local/S3 each round:

* write: ``write_partition`` (zstd Parquet into a staging file, then the store's publish step: fsync +
  ``os.replace`` locally; one upload, multipart above 64 MB, on S3);
* read: ``read_partition`` (local: ``pq.read_table`` of the file; S3: ONE GET of the whole object, then parse);
* scan: ``connect_parquet`` (local: DuckDB ``read_parquet`` view; S3: a pyarrow dataset over pyarrow's S3
  filesystem registered in DuckDB) running ``SELECT count(*), avg(speed_mph), count(DISTINCT vin)``.

The S3 server is moto (an in-memory Python S3 API) on loopback, started here: it measures the protocol and
client overhead on this machine (HTTP, signing, multipart, copies), not a real S3 network. MB/s is Parquet bytes
per second. The table is the unified 14-column telemetry schema, generated vectorised (same value ranges as
``pipeline_write.py``'s synthetic day).

    python benchmarks/storage_s3.py --quick         # 500k rows
    python benchmarks/storage_s3.py                 # 5M rows, 3 rounds
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

import local_services  # noqa: E402 -- the one way the test services start (scripts/local_services.py)

DAY = "2026-02-01"


def telemetry_day(rows: int, vehicles: int = 2000, seed: int = 0):
    """One UTC day of unified telemetry rows, sorted by (vehicle, timestamp) as the pipeline writes them."""
    import numpy as np
    import pyarrow as pa

    from fleet_assets.schema import TELEMETRY_SCHEMA

    rng = np.random.default_rng(seed)
    vid = rng.integers(0, vehicles, rows)
    start = np.datetime64(DAY, "us").astype(np.int64)
    ts = start + rng.integers(0, 86_400_000_000, rows)
    order = np.lexsort((ts, vid))
    vid, ts = vid[order], ts[order]
    ids = np.array([f"v{i}" for i in range(vehicles)], dtype=object)
    vins = np.array([f"VIN{i:014d}" if i % 10 else None for i in range(vehicles)], dtype=object)
    columns = {
        "provider": np.where(vid % 2 == 0, "motive", "samsara").astype(object),
        "provider_vehicle_id": ids[vid],
        "vin": vins[vid],
        "fleet_number": np.array([f"T-{i}" for i in range(vehicles)], dtype=object)[vid],
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "latitude": rng.uniform(25, 48, rows),
        "longitude": rng.uniform(-124, -67, rows),
        "speed_mph": rng.uniform(0, 70, rows),
        "heading_degrees": rng.uniform(0, 360, rows),
        "engine_state": rng.choice(np.array(["On", "Idle", "Off"], dtype=object), rows),
        "driver_id": np.array([f"d{i}" for i in range(vehicles)], dtype=object)[vid],
        "driver_name": np.array([f"Driver {i}" for i in range(vehicles)], dtype=object)[vid],
        "location_description": rng.choice(np.array(["Chicago, IL", "Gary, IN", "Dallas, TX"], dtype=object), rows),
        "odometer": rng.uniform(1e4, 5e5, rows),
    }
    return pa.table({f.name: pa.array(columns[f.name], f.type) if not isinstance(columns[f.name], pa.Array)
                     else columns[f.name] for f in TELEMETRY_SCHEMA}, schema=TELEMETRY_SCHEMA)


def measure(layout, table) -> dict:
    from fleet_assets.storage.catalog import connect_parquet
    from fleet_assets.storage.parquet_partitions import read_partition, write_partition

    dataset = layout.dataset("telemetry")
    t0 = time.perf_counter()
    written = write_partition(dataset, DAY, table)
    t1 = time.perf_counter()
    back = read_partition(dataset, DAY)
    t2 = time.perf_counter()
    with connect_parquet(layout.parquet_dir, ("telemetry",)) as con:
        count = con.execute("SELECT count(*), avg(speed_mph), count(DISTINCT vin) FROM telemetry").fetchone()[0]
    t3 = time.perf_counter()
    assert back.num_rows == table.num_rows == count, (back.num_rows, table.num_rows, count)
    return {"write": t1 - t0, "read": t2 - t1, "scan": t3 - t2, "bytes": written.bytes}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem = next((int(line.split()[1]) // 1024 // 1024 for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), 0)
    return f"nproc={os.cpu_count()}, CPU {cpu}, {mem} GB RAM, Python {platform.python_version()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="500k rows, 2 rounds")
    parser.add_argument("--rows", type=int, help="rows in the day (default 5,000,000; --quick 500,000)")
    parser.add_argument("--rounds", type=int, help="alternating local/S3 rounds (default 3; --quick 2)")
    args = parser.parse_args(argv)
    rows = args.rows or (500_000 if args.quick else 5_000_000)
    rounds = args.rounds or (2 if args.quick else 3)
    print(f"# machine: {machine()}", flush=True)
    print(f"# command: python benchmarks/storage_s3.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)

    from fleet_assets.storage.layout import DataLayout

    t = time.perf_counter()
    table = telemetry_day(rows)
    print(f"generated {rows:,} rows in {time.perf_counter() - t:.1f}s ({table.nbytes / 1e6:.0f} MB in memory)", flush=True)
    with tempfile.TemporaryDirectory(prefix="storage-s3-bench-") as tmp:
        with local_services.s3(log=Path(tmp) / "moto.log") as endpoint:
            os.environ.update({"AWS_ENDPOINT_URL_S3": endpoint, **local_services.TEST_CREDENTIALS})
            bucket = f"bench-{uuid.uuid4().hex[:8]}"
            local_services.create_bucket(endpoint, bucket)
            sides = {"local": DataLayout(Path(tmp) / "local"),
                     "s3": DataLayout(Path(tmp) / "host", storage_url=f"s3://{bucket}/data")}
            results: dict[str, list[dict]] = {name: [] for name in sides}
            for rnd in range(1, rounds + 1):
                for name, layout in sides.items():
                    r = measure(layout, table)
                    results[name].append(r)
                    print(f"round {rnd} {name:5s} write {r['write']:6.2f}s  read {r['read']:6.2f}s  "
                          f"scan {r['scan']:6.2f}s  ({r['bytes'] / 1e6:.1f} MB Parquet)  load {os.getloadavg()[0]:.2f}",
                          flush=True)
    size = results["local"][0]["bytes"] / 1e6
    print(f"\n{rows:,} rows, {size:.1f} MB Parquet; median of {rounds} rounds")
    print("| step | local s | local MB/s | S3 (moto) s | S3 MB/s | S3 / local |")
    print("|---|---:|---:|---:|---:|---:|")
    for step in ("write", "read", "scan"):
        local = statistics.median(r[step] for r in results["local"])
        s3 = statistics.median(r[step] for r in results["s3"])
        print(f"| {step} | {local:.2f} | {size / local:.0f} | {s3:.2f} | {size / s3:.0f} | {s3 / local:.2f}x |")
    print(f"# load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
