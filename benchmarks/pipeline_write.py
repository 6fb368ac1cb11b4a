#!/usr/bin/env python
"""Benchmark: normalize + dedup + write one day of provider data, ours vs the hub's naive path.

What is measured (each path in its own subprocess, so peak RSS is per path):

* ours: raw NDJSON bytes (exactly what the raw store holds) -> Arrow JSON
  parse (timed separately) -> normalize_motive / normalize_samsara (as-of, nearest, interval
  joins) -> dedup_telemetry -> write_partition (atomic, zstd Parquet). ``publish_s`` (reported
  apart, not in the total): the asset's full publish path, rules -> write -> read back -> rules.
* naive (Fleet Telemetry Hub style): json.loads per line -> per-row Python
  flatten to a list of dicts (joins via per-vehicle dict lookups, i.e.
  *kinder* than the hub's O(points x readings) scans) -> pandas DataFrame ->
  concat with the whole existing file -> drop_duplicates(vin, timestamp,
  keep='last') -> rewrite the whole file.
* re-run cost with 1 vs N days of history: re-materialize one day when the
  store already holds N days (ours: replace one partition; naive: concat with,
  dedup and rewrite the single history file).

Input: synthetic wire records generated vectorised with Polars (half Motive
``vehicle_location`` lines, half Samsara stats-history records whose gps
arrays hold the other half of the points), ~1% repeated points.

    python benchmarks/pipeline_write.py --quick
    python benchmarks/pipeline_write.py                 # 5M rows, naive at the same size
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- data


def generate_raw(rows: int, vehicles: int, day: str, seed: int = 0) -> dict[str, bytes]:
    """Raw NDJSON files for one day: Motive vehicles/locations and Samsara stats/assignments."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(seed)
    half = rows // 2
    start = np.datetime64(day, "us").astype(np.int64)

    def points(n, fleet):
        vid = rng.integers(0, fleet, n)
        ts = start + rng.integers(0, 86_400, n) * 1_000_000
        dup = rng.random(n) < 0.01  # repeated points (same vehicle, same second)
        ts[dup] = ts[np.maximum(np.flatnonzero(dup) - 1, 0)]
        vid[dup] = vid[np.maximum(np.flatnonzero(dup) - 1, 0)]
        return vid, ts

    mv = vehicles // 2
    m_vid, m_ts = points(half, mv)
    by_vehicle = np.lexsort((m_ts, m_vid))  # the API answers per vehicle, in time order
    m_vid, m_ts = m_vid[by_vehicle], m_ts[by_vehicle]
    motive_vehicles = pl.DataFrame({
        "id": np.arange(mv), "number": [f"M-{i}" for i in range(mv)],
        "vin": [f"MVIN{i:013d}" if i % 10 else None for i in range(mv)], "metric_units": np.arange(mv) % 4 == 0,
    })
    motive = pl.DataFrame({
        "vehicle_id": m_vid.astype(str),
        "located_at": pl.Series(m_ts).cast(pl.Datetime("us")).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lat": rng.uniform(25, 48, half), "lon": rng.uniform(-124, -67, half),
        "type": rng.choice(["breadcrumb", "vehicle_moving", "vehicle_stopped", "ignition_off"], half),
        "speed": np.where(rng.random(half) < 0.05, np.nan, rng.uniform(0, 110, half)),
        "bearing": rng.uniform(0, 360, half), "true_odometer": rng.uniform(1e4, 5e5, half),
        "description": rng.choice(["Chicago, IL", "Gary, IN", " "], half),
    }).with_columns(pl.col("speed").fill_nan(None))
    motive = motive.select(
        "vehicle_id",
        pl.struct(
            "located_at", "lat", "lon", "type", "description", "speed", "bearing", "true_odometer",
            pl.struct(pl.col("vehicle_id").cast(pl.Int64).alias("id"), pl.lit("Ann").alias("first_name"), pl.lit("Lee").alias("last_name")).alias("driver"),
        ).alias("vehicle_location"),
    )

    sv = vehicles - mv
    s_vid, s_ts = points(rows - half, sv)
    gps = pl.DataFrame({
        "vid": s_vid, "t": s_ts, "latitude": rng.uniform(25, 48, rows - half), "longitude": rng.uniform(-124, -67, rows - half),
        "headingDegrees": rng.integers(0, 360, rows - half), "speedMilesPerHour": rng.uniform(0, 70, rows - half),
    }).sort("vid", "t").with_columns(time=pl.col("t").cast(pl.Datetime("us")).dt.strftime("%Y-%m-%dT%H:%M:%S.%3fZ"))
    gps = gps.with_columns(reverseGeo=pl.struct(pl.lit("Dallas, TX").alias("formattedLocation")))
    per_vehicle = gps.group_by("vid").agg(
        pl.struct("time", "latitude", "longitude", "headingDegrees", "speedMilesPerHour", "reverseGeo").alias("gps"),
        # Readings every ~10 min derived from the points (engine state and odometer series).
        pl.struct("time", pl.when(pl.col("speedMilesPerHour") > 3).then(pl.lit("On")).otherwise(pl.lit("Idle")).alias("value")).gather_every(20).alias("engineStates"),
        pl.struct("time", (pl.col("t") // 1000).alias("value")).gather_every(20).alias("obdOdometerMeters"),
    ).sort("vid")
    stats = per_vehicle.select(
        pl.format("s{}", "vid").alias("id"), pl.format("Truck {}", "vid").alias("name"),
        pl.struct(pl.format("SVIN{}", pl.col("vid").cast(pl.String).str.zfill(13)).alias("samsara.vin")).alias("externalIds"),
        "gps", "engineStates", "obdOdometerMeters",
    )
    assignments = pl.DataFrame({"vid": np.arange(sv)}).select(
        pl.struct(pl.format("d{}", "vid").alias("id"), pl.lit("Driver").alias("name")).alias("driver"),
        pl.struct(pl.format("s{}", "vid").alias("id")).alias("vehicle"),
        pl.lit(f"{day}T00:00:00Z").alias("startTime"), pl.lit(None, pl.String).alias("endTime"), pl.lit(False).alias("isPassenger"),
    )

    def nd(df):
        return df.write_ndjson().encode()

    return {"vehicles": nd(motive_vehicles), "locations": nd(motive), "stats": nd(stats), "assignments": nd(assignments)}


# --------------------------------------------------------------------------- ours


def run_ours(raw: dict[str, bytes], day: str, out: Path) -> dict:
    import pyarrow as pa

    from fleet_assets.storage.parquet_partitions import write_partition
    from fleet_assets.storage.publish import publish_partition
    from fleet_assets.transforms import dedup_telemetry, normalize_motive, normalize_samsara
    from fleet_assets.transforms.rules import DATASET_RULES
    from fleet_assets.transforms.motive import motive_locations_table, motive_vehicles_table
    from fleet_assets.transforms.wire import SAMSARA_ASSIGNMENT_SCHEMA, SAMSARA_STATS_SCHEMA, as_table

    t0 = time.perf_counter()
    vehicles, locations = motive_vehicles_table(raw["vehicles"]), motive_locations_table(raw["locations"])
    stats = as_table(raw["stats"], SAMSARA_STATS_SCHEMA, "stats")
    assignments = as_table(raw["assignments"], SAMSARA_ASSIGNMENT_SCHEMA, "assignments")
    tp = time.perf_counter()
    motive = normalize_motive(vehicles, locations, day)
    samsara = normalize_samsara(stats, assignments, day)
    t1 = time.perf_counter()
    deduped = dedup_telemetry(pa.concat_tables([motive, samsara]))
    t2 = time.perf_counter()
    write_partition(out / "telemetry", day, deduped.table)
    t3 = time.perf_counter()
    # What the telemetry asset does instead of the bare write (not in total_s, which stays comparable):
    publish_partition(out / "telemetry_published", day, deduped.table, DATASET_RULES["telemetry"])
    t4 = time.perf_counter()
    return {"parse_s": tp - t0, "normalize_s": t1 - tp, "dedup_s": t2 - t1, "write_s": t3 - t2, "total_s": t3 - t0,
            "publish_s": t4 - t3, "rows_in": motive.num_rows + samsara.num_rows, "rows_out": deduped.table.num_rows}


# --------------------------------------------------------------------------- naive


def naive_flatten(raw: dict[str, bytes], day: str) -> list[dict]:
    """Per-record Python flatten (json.loads, dict lookups, one dict per point)."""
    from bisect import bisect_right
    from datetime import datetime

    lo, hi = datetime.fromisoformat(f"{day}T00:00:00+00:00"), datetime.fromisoformat(f"{day}T23:59:59.999999+00:00")
    vehicles = {str(v["id"]): v for v in map(json.loads, raw["vehicles"].splitlines())}
    out = []
    for line in raw["locations"].splitlines():
        rec = json.loads(line)
        loc, veh = rec["vehicle_location"], vehicles.get(rec["vehicle_id"], {})
        ts = datetime.fromisoformat(loc["located_at"].replace("Z", "+00:00"))
        if not lo <= ts <= hi:
            continue
        speed = loc.get("speed")
        if speed is not None and veh.get("metric_units"):
            speed *= 0.621371
        driver = loc.get("driver") or {}
        out.append({"provider": "motive", "provider_vehicle_id": rec["vehicle_id"], "vin": veh.get("vin"),
                    "fleet_number": veh.get("number"), "timestamp": ts, "latitude": loc["lat"], "longitude": loc["lon"],
                    "speed_mph": speed, "heading_degrees": loc.get("bearing"),
                    "engine_state": "On" if (speed or 0) > 3 else "Idle", "driver_id": str(driver.get("id")),
                    "driver_name": f"{driver.get('first_name')} {driver.get('last_name')}",
                    "location_description": loc.get("description"), "odometer": loc.get("true_odometer")})
    for line in raw["stats"].splitlines():
        rec = json.loads(line)
        states = sorted((s["time"], s["value"]) for s in rec.get("engineStates") or [])
        state_times = [s[0] for s in states]
        odo = {o["time"]: o["value"] for o in rec.get("obdOdometerMeters") or []}
        for g in rec.get("gps") or []:
            ts = datetime.fromisoformat(g["time"].replace("Z", "+00:00"))
            if not lo <= ts <= hi:
                continue
            i = bisect_right(state_times, g["time"]) - 1
            meters = odo.get(g["time"])
            out.append({"provider": "samsara", "provider_vehicle_id": rec["id"], "vin": rec["externalIds"]["samsara.vin"],
                        "fleet_number": rec["name"], "timestamp": ts, "latitude": g["latitude"], "longitude": g["longitude"],
                        "speed_mph": g.get("speedMilesPerHour"), "heading_degrees": g.get("headingDegrees"),
                        "engine_state": states[i][1] if i >= 0 else None, "driver_id": None, "driver_name": None,
                        "location_description": (g.get("reverseGeo") or {}).get("formattedLocation"),
                        "odometer": meters / 1609.344 if meters is not None else None})
    return out


def naive_save(records: list[dict], history_file: Path) -> None:
    """The hub's save: DataFrame -> concat with the existing file -> drop_duplicates -> rewrite."""
    import pandas as pd

    new = pd.DataFrame(records)
    if history_file.exists():
        new = pd.concat([pd.read_parquet(history_file), new], ignore_index=True)
    new = new.drop_duplicates(subset=["vin", "timestamp"], keep="last").sort_values(["vin", "timestamp"])
    tmp = history_file.with_suffix(".tmp")
    new.to_parquet(tmp, index=False)
    os.replace(tmp, history_file)


def run_naive(raw: dict[str, bytes], day: str, out: Path) -> dict:
    t0 = time.perf_counter()
    records = naive_flatten(raw, day)
    t1 = time.perf_counter()
    naive_save(records, out / "telemetry.parquet")
    t2 = time.perf_counter()
    return {"normalize_s": t1 - t0, "dedup_write_s": t2 - t1, "total_s": t2 - t0, "rows_in": len(records)}


# --------------------------------------------------------------------------- history


def run_history(path: str, days: int, rows_per_day: int, out: Path) -> dict:
    """Re-run the newest day when ``days`` days of history exist; returns that re-run's time."""
    from datetime import date, timedelta

    keys = [(date(2026, 1, 1) + timedelta(days=i)).isoformat() for i in range(days)]
    raw_last = None
    for i, key in enumerate(keys):
        raw = generate_raw(rows_per_day, 200, key, seed=i)
        if path == "ours":
            run_ours(raw, key, out)
        else:
            naive_save(naive_flatten(raw, key), out / "telemetry.parquet")
        raw_last = raw
    t0 = time.perf_counter()
    if path == "ours":
        run_ours(raw_last, keys[-1], out)
    else:
        naive_save(naive_flatten(raw_last, keys[-1]), out / "telemetry.parquet")
    return {"rerun_s": time.perf_counter() - t0, "days": days, "rows_per_day": rows_per_day}


# --------------------------------------------------------------------------- driver


def worker(args) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        out = Path(tmp)
        if args.worker == "history":
            result = run_history(args.path, args.history_days, args.history_rows, out)
        else:
            t0 = time.perf_counter()
            raw = generate_raw(args.rows, args.vehicles, args.day)
            gen_s = time.perf_counter() - t0
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            result = (run_ours if args.path == "ours" else run_naive)(raw, args.day, out)
            result.update(generate_s=gen_s, raw_mb=sum(map(len, raw.values())) / 1e6, rss_after_generate_mb=rss_before / 1024)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))


def spawn(*argv: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise SystemExit(f"worker {argv} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    return f"nproc={os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Results go to stdout; copy them into benchmarks/RESULTS.md.")
    parser.add_argument("--quick", action="store_true", help="small sizes (200k rows, 10 history days) for a smoke run")
    parser.add_argument("--rows", type=int, default=5_000_000, help="points in the benchmarked day (default 5M)")
    parser.add_argument("--naive-rows", type=int, help="rows for the naive path (default: same as --rows)")
    parser.add_argument("--vehicles", type=int, default=2000, help="vehicles in the synthetic fleet")
    parser.add_argument("--history-days", type=int, default=90, help="days of history for the re-run comparison")
    parser.add_argument("--history-rows", type=int, default=100_000, help="rows per history day (naive rewrites all of them)")
    parser.add_argument("--skip-history", action="store_true", help="skip the 1-day vs N-day re-run comparison")
    parser.add_argument("--only", choices=["ours", "naive"], help="run one path only (no ratio)")
    parser.add_argument("--day", default="2026-02-01", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["day", "history"], help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=["ours", "naive"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if args.quick:
        args.rows, args.history_days, args.history_rows = 200_000, 10, 20_000
    naive_rows = args.naive_rows or args.rows
    print(f"# machine: {machine()}", flush=True)
    print(f"# command: python benchmarks/pipeline_write.py {' '.join(argv if argv is not None else sys.argv[1:])}", flush=True)
    results = {}
    for path, rows in (("ours", args.rows), ("naive", naive_rows)):
        if args.only and path != args.only:
            continue
        print(f"running {path}: one day of {rows:,} points ...", file=sys.stderr, flush=True)
        r = spawn("--worker", "day", "--path", path, "--rows", str(rows), "--vehicles", str(args.vehicles), "--day", args.day)
        results[path] = r
        stages = (f"parse={r['parse_s']:.2f}s normalize+dedup={r['normalize_s'] + r['dedup_s']:.2f}s" if path == "ours"
                  else f"json.loads+flatten={r['normalize_s']:.2f}s dedup+write={r['dedup_write_s']:.2f}s")
        print(f"{path:5s} rows={r['rows_in']:,} {stages} "
              f"total(incl. write)={r['total_s']:.2f}s -> {r['rows_in'] / r['total_s']:,.0f} rows/s end-to-end; "
              f"peak RSS {r['peak_rss_mb']:.0f} MB (after generating input {r['rss_after_generate_mb']:.0f} MB)  {json.dumps(r)}", flush=True)
    if args.only:
        return 0
    ours, naive = results["ours"], results["naive"]
    ours_nd = ours["rows_in"] / (ours["normalize_s"] + ours["dedup_s"])
    ours_pnd = ours["rows_in"] / (ours["parse_s"] + ours["normalize_s"] + ours["dedup_s"])
    print(f"ours normalize+dedup (Arrow in): {ours_nd:,.0f} rows/s; JSON parse+normalize+dedup: {ours_pnd:,.0f} rows/s; "
          f"end-to-end ratio ours/naive = "
          f"{(ours['rows_in'] / ours['total_s']) / (naive['rows_in'] / naive['total_s']):.1f}x", flush=True)
    if not args.skip_history:
        for path in ("ours", "naive"):
            for days in (1, args.history_days):
                print(f"running {path}: re-run with {days} day(s) of history ...", file=sys.stderr, flush=True)
                h = spawn("--worker", "history", "--path", path, "--history-days", str(days), "--history-rows", str(args.history_rows))
                print(f"{path:5s} re-run one day ({args.history_rows:,} rows) with {days:3d} day(s) of history: {h['rerun_s']:.3f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
