"""Edge collector benchmark: buffer insert rate, chunk cutting rate, collector RSS.

Three measurements, each next to a naive baseline in the same run:

* insert  ``EventBuffer.append`` (WAL, ``synchronous=FULL``, every record
          validated against the wire schema) in batches, vs the seed-style naive
          buffer: default journal, one ``INSERT`` + ``COMMIT`` per event.
* chunk   ``cut_trip`` (gzip NDJSON + sha256 + atomic writes + manifest) vs a
          naive cutter (whole trip in memory, pydantic model per record,
          ``gzip.open`` line by line, sha256 by re-reading each file).
* rss     peak RSS of ``edge-collector replay --synthetic N`` (the real CLI and
          pipeline: NMEA parsing, fusion, trip detection, buffer) sampled with
          psutil (GPS only, and with python-OBD against the in-process
          ELM327-emulator), vs an idle interpreter that only imported the collector.

    .venv/bin/python benchmarks/edge_buffer.py --quick
    .venv/bin/python benchmarks/edge_buffer.py --events 200000 --naive-events 1000 --drive-seconds 14400

Prints a Markdown table per measurement (paste into benchmarks/RESULTS.md,
section "## Edge collector"). Runs in a temporary directory on the same disk as
``--workdir`` (default: the system temp dir) — fsync cost depends on that disk.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fleet_protocol import EdgeEvent

from edge_collector.buffer import EventBuffer
from edge_collector.chunking import cut_trip
from edge_collector.synthetic import synthetic_drive

VIN = "WAUZZZFY0R1234567"
T0 = datetime(2025, 11, 4, 8, 0, tzinfo=timezone.utc)


def _rows(n: int, start: int = 0) -> list[dict]:
    return [{"ts": T0 + timedelta(milliseconds=100 * i), "lat": 49.5891 + i * 1e-6, "lon": 8.6527 - i * 1e-6,
             "speed_kph": float(i % 130), "rpm": 800.0 + i % 3000, "coolant_c": 88.0, "throttle_pos": (i % 100) / 100,
             "fuel_level_pct": 62.5} for i in range(start, start + n)]


# -- insert ------------------------------------------------------------------------------------
def bench_insert(workdir: Path, events: int, batch: int) -> tuple[dict, str]:
    buffer = EventBuffer(workdir / f"buffer-{batch}.db")
    trip = buffer.start_trip(VIN, T0)
    rows = _rows(events)  # generated before timing: only the buffer is measured
    began = time.perf_counter()
    for i in range(0, events, batch):
        buffer.append(trip, rows[i:i + batch])
    elapsed = time.perf_counter() - began
    buffer.end_trip(trip, T0 + timedelta(milliseconds=100 * events))
    buffer.close()
    return {"mode": f"EventBuffer.append, batches of {batch} (WAL, synchronous=FULL, validated)", "events": events,
            "s": elapsed, "rate": events / elapsed}, trip


NAIVE_SCHEMA = """CREATE TABLE events (trip_id TEXT, seq INTEGER, ts TEXT, lat REAL, lon REAL, speed_kph REAL,
rpm REAL, coolant_c REAL, throttle_pos REAL, soc_pct REAL, fuel_level_pct REAL, PRIMARY KEY (trip_id, seq))"""


def bench_naive_insert(workdir: Path, events: int) -> dict:
    """Seed style: default rollback journal (synchronous=FULL by default), one commit per event."""
    db = sqlite3.connect(workdir / "naive.db")
    db.execute(NAIVE_SCHEMA)
    db.commit()
    rows = _rows(events)
    began = time.perf_counter()
    for seq, r in enumerate(rows, 1):
        db.execute("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                   ("trip", seq, r["ts"].isoformat(), r["lat"], r["lon"], r["speed_kph"], r["rpm"], r["coolant_c"],
                    r["throttle_pos"], None, r["fuel_level_pct"]))
        db.commit()
    elapsed = time.perf_counter() - began
    db.close()
    return {"mode": "naive: INSERT + COMMIT per event (default journal, synchronous=FULL)", "events": events,
            "s": elapsed, "rate": events / elapsed}


# -- chunk -------------------------------------------------------------------------------------
def bench_chunk(workdir: Path, db_name: str, trip: str, chunk_size: int) -> dict:
    out = workdir / "chunks"
    out.mkdir()
    with EventBuffer(workdir / db_name) as buffer:
        began = time.perf_counter()
        manifest = cut_trip(buffer, trip, out, max_records_per_chunk=chunk_size)
        elapsed = time.perf_counter() - began
    gz = sum(c.size_bytes for c in manifest.chunks)
    return {"mode": f"cut_trip ({chunk_size}/chunk)", "events": manifest.event_count, "chunks": len(manifest.chunks),
            "s": elapsed, "rate": manifest.event_count / elapsed, "mb_s": gz / elapsed / 1e6, "gz_mb": gz / 1e6}


def bench_naive_chunk(workdir: Path, db_name: str, trip: str, chunk_size: int) -> dict:
    out = workdir / "naive_chunks"
    out.mkdir()
    began = time.perf_counter()
    db = sqlite3.connect(workdir / db_name)
    rows = db.execute("SELECT seq, ts, lat, lon, speed_kph, rpm, coolant_c, throttle_pos, soc_pct, fuel_level_pct "
                      "FROM events WHERE trip_id = ? ORDER BY seq", (trip,)).fetchall()
    db.close()
    keys = ("seq", "ts", "lat", "lon", "speed_kph", "rpm", "coolant_c", "throttle_pos", "soc_pct", "fuel_level_pct")
    manifest, gz = [], 0
    for no, i in enumerate(range(0, len(rows), chunk_size), 1):
        path = out / f"{trip}-{no}.ndjson.gz"
        with gzip.open(path, "wt") as handle:
            for row in rows[i:i + chunk_size]:
                event = EdgeEvent(vin=VIN, trip_id=trip, **dict(zip(keys, row)))
                handle.write(json.dumps(event.to_json_dict(), sort_keys=True) + "\n")
        data = path.read_bytes()
        gz += len(data)
        manifest.append({"no": no, "sha256": hashlib.sha256(data).hexdigest(), "size_bytes": len(data)})
    (out / f"{trip}.manifest.json").write_text(json.dumps(manifest))
    elapsed = time.perf_counter() - began
    return {"mode": "naive: all rows in memory, gzip.open line by line, re-read for sha256", "events": len(rows),
            "chunks": len(manifest), "s": elapsed, "rate": len(rows) / elapsed, "mb_s": gz / elapsed / 1e6,
            "gz_mb": gz / 1e6}


# -- rss ---------------------------------------------------------------------------------------
def _peak_rss(cmd: list[str]) -> tuple[float, float, str]:
    import psutil

    began = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    handle, peak = psutil.Process(proc.pid), 0
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(proc.stdout), daemon=True)
    reader.start()
    while proc.poll() is None:
        try:
            peak = max(peak, handle.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    reader.join(10)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{''.join(output)}")
    return peak / 2**20, time.perf_counter() - began, (output[-1].strip() if output else "")


def bench_rss(workdir: Path, drive_seconds: int) -> list[dict]:
    cli = [sys.executable, "-m", "edge_collector.cli"]
    idle = [sys.executable, "-c", "import time, edge_collector.cli, edge_collector.collector, edge_collector.gps, "
            "edge_collector.obd_reader; time.sleep(1.0)"]
    idle_mb, _, _ = _peak_rss(idle)
    replay = cli + ["replay", "--db", str(workdir / "rss.db"), "--vin", VIN, "--synthetic", str(drive_seconds),
                    "--idle-timeout", "60"]
    peak_mb, wall, summary = _peak_rss(replay)
    log = workdir / "drive.nmea"  # the same drive as a recorded log file: must be streamed, not loaded
    with open(log, "wb") as handle:
        for line in synthetic_drive(drive_seconds):
            handle.write(line + b"\r\n")
    from_file = cli + ["replay", "--db", str(workdir / "rss-file.db"), "--vin", VIN, "--nmea", str(log),
                       "--idle-timeout", "60"]
    file_mb, file_wall, file_summary = _peak_rss(from_file)
    obd_seconds = max(drive_seconds // 4, 60)
    with_obd = cli + ["replay", "--db", str(workdir / "rss-obd.db"), "--obd", "emulator", "--synthetic",
                      str(obd_seconds), "--idle-timeout", "60"]
    obd_mb, obd_wall, obd_summary = _peak_rss(with_obd)
    return [
        {"mode": "idle interpreter, collector modules imported (baseline)", "peak_mb": idle_mb, "s": None, "summary": ""},
        {"mode": f"`edge-collector replay --synthetic {drive_seconds}` (4 NMEA sentences/s of drive time)",
         "peak_mb": peak_mb, "s": wall, "summary": summary},
        {"mode": f"`edge-collector replay --nmea drive.nmea` (the same drive as a {log.stat().st_size / 1e6:.1f} MB "
                 "log file)", "peak_mb": file_mb, "s": file_wall, "summary": file_summary},
        {"mode": f"`edge-collector replay --obd emulator --synthetic {obd_seconds}` (python-OBD + pint sampling 6 "
                 "PIDs per step; the ELM327-emulator runs in the same process, so this overstates the collector)",
         "peak_mb": obd_mb, "s": obd_wall, "summary": obd_summary},
    ]


# -- report ------------------------------------------------------------------------------------
def _machine() -> str:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"nproc={os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, {platform.system()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Goals: >= 50k events/s buffered, collector RSS < 80 MB.")
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke run, ~10 s)")
    parser.add_argument("--events", type=int, default=200_000, help="events for the batched insert and chunking")
    parser.add_argument("--batches", default="100,500,2000",
                        help="comma-separated records per append() to compare (the collector flushes <= 500)")
    parser.add_argument("--naive-events", type=int, default=1_000, help="events for the one-commit-per-event baseline")
    parser.add_argument("--chunk-size", type=int, default=900, help="records per chunk")
    parser.add_argument("--drive-seconds", type=int, default=14_400, help="synthetic drive length for the RSS run")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary databases go")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.naive_events, args.drive_seconds = 20_000, 200, 1_800
    batches = [int(b) for b in args.batches.split(",")]
    print(f"# {_machine()}", flush=True)
    print(f"# command: {' '.join([Path(sys.executable).name, *sys.argv])}", flush=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        print(f"insert: {args.events} batched events per batch size, {args.naive_events} naive ...", flush=True)
        naive = bench_naive_insert(work, args.naive_events)
        ours = []
        for batch in batches:
            row, trip = bench_insert(work, args.events, batch)
            ours.append((row, trip, batch))
        print("\n| insert mode | events | s | events/s | vs naive |\n|---|---:|---:|---:|---:|")
        for row in [naive] + [o[0] for o in ours]:
            print(f"| {row['mode']} | {row['events']} | {row['s']:.2f} | {row['rate']:,.0f} | "
                  f"{row['rate'] / naive['rate']:.1f}x |")
        print(f"\nchunk: cutting the {args.events}-event trip ...", flush=True)
        _, trip, batch = ours[-1]
        chunk = bench_chunk(work, f"buffer-{batch}.db", trip, args.chunk_size)
        naive_chunk = bench_naive_chunk(work, f"buffer-{batch}.db", trip, args.chunk_size)
        print("\n| chunk mode | events | chunks | s | events/s | gzip MB/s | vs naive |\n|---|---:|---:|---:|---:|---:|---:|")
        for row in (naive_chunk, chunk):
            print(f"| {row['mode']} | {row['events']} | {row['chunks']} | {row['s']:.2f} | {row['rate']:,.0f} | "
                  f"{row['mb_s']:.2f} | {row['rate'] / naive_chunk['rate']:.2f}x |")
        print(f"\nrss: replaying a {args.drive_seconds} s synthetic drive through the CLI ...", flush=True)
        rss = bench_rss(work, args.drive_seconds)
        print("\n| process | peak RSS MB | wall s |\n|---|---:|---:|")
        for row in rss:
            wall = f"{row['s']:.1f}" if row["s"] is not None else "-"
            print(f"| {row['mode']} | {row['peak_mb']:.1f} | {wall} |")
        for row in rss[1:]:
            print(f"\nreplay summary: {row['summary']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
