"""A day of edge events through the trip assets and the analytics upload: peak RSS and events/s (issue 14).

    .venv/bin/python benchmarks/edge_day.py                      # 20M events (trip assets), 1M (upload)
    .venv/bin/python benchmarks/edge_day.py --quick              # 200k / 50k: a smoke run
    .venv/bin/python benchmarks/edge_day.py --events 2000000 --upload-events 200000

Stages, each in its own subprocess (peak RSS is per process; the child resets its peak after its imports
through /proc/self/clear_refs, so the figure is the stage's, not the imports'):

1. land the day: one trip per vehicle (``--trip-events`` at 1 Hz, started so that some cross midnight)
   through the ingest service functions into a fresh landing zone (not timed as a subject);
2. ``trip_datasets`` + ``normalized_edge`` (dg.materialize) of the day: ours, then today's code
   (``--baseline-ref``, exported with ``git archive`` and run with PYTHONPATH) where
   ``events <= --baseline-max`` (the whole-day reader holds ~1 kB per event: it cannot hold 20M);
   the outputs of both are compared by a sorted-content hash (DuckDB, order-independent);
3. the upload CLI of a day of ``--upload-events`` (its own landed day, trip assets run first) to the
   sandbox backend in its own process, ours with ``--shard-rows`` vs the baseline (up to
   ``--upload-baseline-max`` events), each client with the sandbox backend of its own version.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

DAY = "2025-05-05"
UPLOAD_DAY = "2025-05-07"
DATASETS = ("edge_events", "edge_dtcs", "trip_summaries", "normalized_edge")

PEAK = """
def _kb(field):
    return int(next(l for l in open("/proc/self/status") if l.startswith(field)).split()[1])
with open("/proc/self/clear_refs", "w") as _f:
    _f.write("5")
_BASE = _kb("VmRSS:")
import atexit, json as _json, sys as _sys
atexit.register(lambda: print("PEAK " + _json.dumps({"base_mb": _BASE / 1024, "peak_mb": _kb("VmHWM:") / 1024}),
                              file=_sys.stderr))
"""

TRIPS_CHILD = """
import sys
import dagster as dg
from fleet_assets.trips.assets import TRIP_ASSETS
from fleet_assets.warehouse.resources import FleetStorage
""" + PEAK + """
assert dg.materialize(TRIP_ASSETS, partition_key=sys.argv[2],
                      resources={"storage": FleetStorage(data_dir=sys.argv[1])}).success
"""


def _line(vin: str, trip_id: str, seq: int, ts: datetime) -> str:
    phase = (seq % 600) / 600
    speed = 0.0 if 0.45 < phase < 0.5 else round(60 + 30 * (phase - 0.5) ** 2, 2)
    return (f'{{"schema_version":1,"vin":"{vin}","trip_id":"{trip_id}","seq":{seq},'
            f'"ts":"{ts.strftime("%Y-%m-%dT%H:%M:%SZ")}","lat":{49.5 + seq * 1e-5:.6f},"lon":{8.6 + seq * 1e-5:.6f},'
            f'"speed_kph":{speed},"rpm":{800.0 if speed == 0 else 1500 + speed * 20},"coolant_c":85.0,'
            f'"throttle_pos":0.2,"fuel_level_pct":{max(0.0, 60 - seq * 0.001):.3f}}}')


def land_day(data_dir: Path, day: str, events: int, trip_events: int, per_chunk: int = 3600) -> int:
    """Land ``events`` events of ``day`` (one trip per vehicle) through the ingest service functions."""
    from fleet_protocol import sha256_hex

    from fleet_assets.ingest import service
    from fleet_assets.ingest.landing import LandingZone

    zone = LandingZone(data_dir / "landing", fsync=False)
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    landed, v = 0, 0
    while landed < events:
        n = min(trip_events, events - landed)
        vin, trip_id = f"1BENCH{v:011d}", str(uuid.uuid4())
        # spread over the day; every 50th trip starts 10 minutes before midnight and crosses into the next day
        t0 = start + timedelta(days=1, minutes=-10) if v % 50 == 49 else start + timedelta(seconds=(v * 137) % 70_000)
        chunks, manifest_chunks = {}, []
        for no, first in enumerate(range(1, n + 1, per_chunk), start=1):
            last = min(n, first + per_chunk - 1)
            body = gzip.compress(("\n".join(_line(vin, trip_id, s, t0 + timedelta(seconds=s - 1))
                                            for s in range(first, last + 1)) + "\n").encode(), 1)
            chunks[no] = body
            manifest_chunks.append({"no": no, "first_seq": first, "last_seq": last, "size_bytes": len(body),
                                    "sha256": sha256_hex(body)})
        iso = t0.strftime("%Y-%m-%dT%H:%M:%SZ")
        service.create_trip(zone, {"vin": vin, "trip_id": trip_id, "started_at": iso}, None)
        for no, body in chunks.items():
            service.put_chunk(zone, trip_id, no, body, sha256_hex(body), None)
        ended = (t0 + timedelta(seconds=n - 1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        manifest = {"schema_version": 1, "vin": vin, "trip_id": trip_id, "started_at": iso, "ended_at": ended,
                    "event_count": n, "chunks": manifest_chunks}
        service.complete_trip(zone, trip_id, manifest, None)
        landed += n
        v += 1
    return v


def write_events_directly(data_dir: Path, day: str, events: int, trip_events: int,
                          trips_per_group: int = 100) -> int:
    """The ``edge_events`` partition that ``land_day`` + the trip assets give for ``day`` (same trips, same
    values: each column of ``_line`` parsed back, per seq), written with Arrow in row groups of
    ``trips_per_group`` trips; ``edge_dtcs`` empty. For an upload-only run of a day too large to land in
    the time at hand (20M events through the ingest functions took ~12 min on an idle machine). Trip ids
    are uuid4 in both, so the content matches the trip assets' except ``trip_id`` (``--check-direct``)."""
    import pyarrow as pa

    from fleet_assets.storage.parquet_partitions import partition_writer, write_partition
    from fleet_assets.warehouse.resources import FleetStorage

    storage = FleetStorage(data_dir=str(data_dir))
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    template = [json.loads(_line("V", "T", seq, epoch)) for seq in range(1, trip_events + 1)]
    columns = {name: pa.array([e[name] for e in template], pa.float64())
               for name in ("lat", "lon", "speed_kph", "rpm", "coolant_c", "throttle_pos", "fuel_level_pct")}
    schema = pa.schema([("vin", pa.string()), ("trip_id", pa.string()), ("seq", pa.int64()),
                        ("ts", pa.timestamp("us", tz="UTC")), ("lat", pa.float64()), ("lon", pa.float64()),
                        ("speed_kph", pa.float64()), ("rpm", pa.float64()), ("coolant_c", pa.float64()),
                        ("throttle_pos", pa.float64()), ("soc_pct", pa.float64()), ("fuel_level_pct", pa.float64()),
                        ("clock_skew", pa.bool_())])
    start = datetime.fromisoformat(day).replace(tzinfo=UTC)
    written, v, group = 0, 0, []
    with partition_writer(storage.dataset("edge_events"), day, schema) as out:
        while written < events:
            n = min(trip_events, events - written)
            t0 = start + timedelta(days=1, minutes=-10) if v % 50 == 49 else start + timedelta(seconds=(v * 137) % 70_000)
            first_us = int((t0 - epoch).total_seconds()) * 1_000_000
            group.append(pa.table({
                "vin": pa.array([f"1BENCH{v:011d}"] * n), "trip_id": pa.array([str(uuid.uuid4())] * n),
                "seq": pa.array(range(1, n + 1), pa.int64()),
                "ts": pa.array(range(first_us, first_us + n * 1_000_000, 1_000_000), pa.int64()).cast(schema.field("ts").type),
                **{name: column.slice(0, n) for name, column in columns.items()},
                "soc_pct": pa.nulls(n, pa.float64()), "clock_skew": pa.array([False] * n)}
            ).select(schema.names).cast(schema))
            written += n
            v += 1
            if len(group) == trips_per_group or written >= events:
                out.write(pa.concat_tables(group))
                group = []
    dtc_schema = pa.schema([("vin", pa.string()), ("trip_id", pa.string()), ("seq", pa.int64()),
                            ("ts", pa.timestamp("us", tz="UTC")), ("code", pa.string()),
                            ("description", pa.string()), ("status", pa.string())])
    write_partition(storage.dataset("edge_dtcs"), day, dtc_schema.empty_table())
    return v


def run_child(code: str, args: list[str], pythonpath: str | None = None) -> dict:
    env = {**os.environ, "PYTHONPATH": pythonpath or str(REPO)}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env,
                          cwd=pythonpath or REPO)  # cwd is sys.path[0]: it decides which fleet_assets is imported
    seconds = time.perf_counter() - t0
    peak = next((json.loads(line[5:]) for line in proc.stderr.splitlines() if line.startswith("PEAK ")), {})
    if proc.returncode:
        return {"error": proc.stderr[-1500:], "seconds": seconds}
    return {"seconds": round(seconds, 2), **{k: round(v) for k, v in peak.items()}, "stdout": proc.stdout}


def export_baseline(ref: str, out: Path) -> Path:
    target = out / f"baseline-{ref}"
    if not target.exists():
        target.mkdir(parents=True)
        archive = subprocess.run(["git", "archive", ref, "fleet_assets"], cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def content_hashes(data_dir: Path, day: str) -> dict[str, str]:
    """Per dataset: row count and an order-independent hash of the rows (sum of DuckDB row hashes)."""
    import duckdb

    out = {}
    for name in DATASETS:
        path = data_dir / "parquet" / name / f"date={day}" / "part-0.parquet"
        row = duckdb.sql(f"SELECT count(*), sum(hash(t)::HUGEINT) FROM read_parquet('{path}') t").fetchall()[0]
        out[name] = f"{row[0]}:{row[1]}"
    return out


def copy_landing(src: Path, dst: Path) -> None:
    shutil.copytree(src / "landing", dst / "landing")


UPLOAD_CHILD = """
import sys
from fleet_assets.analytics.cli import main
""" + PEAK + """
raise SystemExit(main(sys.argv[1:]))
"""


def upload(data_dir: Path, url: str, pythonpath: str | None, extra: list[str]) -> dict:
    args = ["--date", UPLOAD_DAY, "--endpoint", url, "--data-dir", str(data_dir), "--json", "-q", *extra]
    result = run_child(UPLOAD_CHILD, args, pythonpath)
    if "stdout" in result:
        report = json.loads(result.pop("stdout").strip().splitlines()[-1])
        result["records_sent"] = sum(report["records_sent"].values())
        result["records_in_day"] = sum(report["records_in_partition"].values())
        result["elapsed_s"] = report["elapsed_seconds"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000_000, help="events of the trip-assets day (0: skip)")
    parser.add_argument("--upload-events", type=int, default=1_000_000, help="events of the upload day")
    parser.add_argument("--trip-events", type=int, default=3_600, help="events per trip (1 Hz)")
    parser.add_argument("--baseline-max", type=int, default=2_000_000,
                        help="run today's code only up to this many events (it holds the whole day)")
    parser.add_argument("--baseline-ref", default="a3cfe9f", help="git ref of today's code")
    parser.add_argument("--shard-rows", type=int, default=None, help="upload --shard-rows (default: the setting's)")
    parser.add_argument("--upload-direct", action="store_true",
                        help="write the upload day's edge_events partition with Arrow instead of landing it and "
                             "running the trip assets (same events; for days too large to land in the time at hand)")
    parser.add_argument("--upload-timeout", type=float, default=None,
                        help="upload --timeout per request (default: the setting's 30 s; a starved backend on a "
                             "machine at load 30+ answered slower than that)")
    parser.add_argument("--upload-store", choices=("memory", "sqlite"), default="memory",
                        help="where the sandbox backend keeps the records: memory (~300 B a record: a 20M-event "
                             "day's ~100M records do not fit 24 GB) or a SQLite file in --out-dir (bounded memory)")
    parser.add_argument("--upload-baseline-max", type=int, default=2_000_000,
                        help="run today's upload (and its backend) only up to this many events")
    parser.add_argument("--quick", action="store_true", help="200k / 50k events")
    parser.add_argument("--out-dir", type=Path, default=Path(tempfile.gettempdir()) / "edge_day_bench")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.upload_events = 200_000, 50_000
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, load {os.getloadavg()}", flush=True)
    shutil.rmtree(args.out_dir, ignore_errors=True)
    ours, base = args.out_dir / "ours", args.out_dir / "baseline"
    baseline_path = str(export_baseline(args.baseline_ref, args.out_dir / "src"))
    run_baseline = args.events <= args.baseline_max

    results = {}
    if args.events:
        trips_stage(args, ours, base, baseline_path, run_baseline, results)
    upload_stage(args, ours, baseline_path, results)
    for name, r in results.items():
        print(f"{name:16s} {json.dumps(r)}", flush=True)
    print(f"load after: {os.getloadavg()}")
    return 0 if all("error" not in r for r in results.values()) else 1


def trips_stage(args, ours: Path, base: Path, baseline_path: str, run_baseline: bool, results: dict) -> None:
    t0 = time.perf_counter()
    trips = land_day(ours, DAY, args.events, args.trip_events)
    print(f"landed {args.events:,} events in {trips:,} trips in {time.perf_counter() - t0:.1f}s", flush=True)
    if run_baseline:
        copy_landing(ours, base)
        results["trips baseline"] = run_child(TRIPS_CHILD, [str(base), DAY], baseline_path)
    results["trips ours"] = run_child(TRIPS_CHILD, [str(ours), DAY])
    for name in [k for k in results if "seconds" in results[k]]:
        results[name].pop("stdout", None)
        results[name]["events_per_s"] = round(args.events / results[name]["seconds"])
    if run_baseline and "error" not in results["trips baseline"]:
        same = content_hashes(ours, DAY) == content_hashes(base, DAY)
        results["trips ours"]["same_content_as_baseline"] = same
    print(f"trips: {json.dumps(results)}", flush=True)


def upload_stage(args, ours: Path, baseline_path: str, results: dict) -> None:
    t0 = time.perf_counter()
    if args.upload_direct:
        write_events_directly(ours, UPLOAD_DAY, args.upload_events, args.trip_events)
    else:
        land_day(ours, UPLOAD_DAY, args.upload_events, args.trip_events)
        assert run_child(TRIPS_CHILD, [str(ours), UPLOAD_DAY]).get("peak_mb") is not None
    print(f"upload day of {args.upload_events:,} events ready in {time.perf_counter() - t0:.1f}s", flush=True)
    from analytics_upload import Server

    runs = [("upload baseline", baseline_path, [])] if args.upload_events <= args.upload_baseline_max else []
    runs.append(("upload ours", None, ["--shard-rows", str(args.shard_rows)] if args.shard_rows else []))
    timeout = ["--timeout", str(args.upload_timeout)] if args.upload_timeout else []
    for name, path, extra in runs:
        store = args.out_dir / f"{name.replace(' ', '-')}.sqlite" if args.upload_store == "sqlite" else None
        server = Server(0.0, 1, 1.0, source=path, store=store)  # each client with the backend of its own version
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
        print(f"{name}: starting at {head.stdout.strip()} (ours), load {os.getloadavg()}, backend {server.url}",
              flush=True)
        try:
            ledger = ours / "analytics_ledger.duckdb"
            ledger.unlink(missing_ok=True)
            results[name] = upload(ours, server.url, path, extra + timeout)
            stats = server.stats()  # exactly-once, seen from the backend: rows stored, re-deliveries absorbed
            results[name]["stored"] = sum(stats["stored"].values())
            results[name]["duplicate_deliveries"] = sum(stats["duplicate_deliveries"].values())
            results[name]["backend_busy_s"] = stats["busy_seconds"]  # the backend's share of the elapsed time
            print(f"{name} {json.dumps(results[name])[:2000]}", flush=True)
        finally:
            server.stop()
        if "elapsed_s" in results[name]:
            results[name]["events_per_s"] = round(args.upload_events / results[name]["seconds"])


if __name__ == "__main__":
    raise SystemExit(main())
