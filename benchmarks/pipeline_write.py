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
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- data


def _motive_raw(n: int, ids, day: str, rng) -> dict[str, bytes]:
    """Motive vehicles (``ids``) and ``n`` location lines, per vehicle in time order."""
    import numpy as np
    import polars as pl

    start = np.datetime64(day, "us").astype(np.int64)
    m_vid, m_ts = _points(n, ids, start, rng)
    by_vehicle = np.lexsort((m_ts, m_vid))  # the API answers per vehicle, in time order
    m_vid, m_ts = m_vid[by_vehicle], m_ts[by_vehicle]
    motive_vehicles = pl.DataFrame({
        "id": ids, "number": [f"M-{i}" for i in ids],
        "vin": [f"MVIN{i:013d}" if i % 10 else None for i in ids], "metric_units": ids % 4 == 0,
    })
    motive = pl.DataFrame({
        "vehicle_id": m_vid.astype(str),
        "located_at": pl.Series(m_ts).cast(pl.Datetime("us")).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "lat": rng.uniform(25, 48, n), "lon": rng.uniform(-124, -67, n),
        "type": rng.choice(["breadcrumb", "vehicle_moving", "vehicle_stopped", "ignition_off"], n),
        "speed": np.where(rng.random(n) < 0.05, np.nan, rng.uniform(0, 110, n)),
        "bearing": rng.uniform(0, 360, n), "true_odometer": rng.uniform(1e4, 5e5, n),
        "description": rng.choice(["Chicago, IL", "Gary, IN", " "], n),
    }).with_columns(pl.col("speed").fill_nan(None))
    motive = motive.select(
        "vehicle_id",
        pl.struct(
            "located_at", "lat", "lon", "type", "description", "speed", "bearing", "true_odometer",
            pl.struct(pl.col("vehicle_id").cast(pl.Int64).alias("id"), pl.lit("Ann").alias("first_name"), pl.lit("Lee").alias("last_name")).alias("driver"),
        ).alias("vehicle_location"),
    )
    return {"vehicles": _nd(motive_vehicles), "locations": _nd(motive)}


def _samsara_raw(n: int, ids, day: str, rng) -> dict[str, bytes]:
    """Samsara stats-history records of ``ids`` holding ``n`` gps points, plus their assignments."""
    import numpy as np
    import polars as pl

    start = np.datetime64(day, "us").astype(np.int64)
    s_vid, s_ts = _points(n, ids, start, rng)
    gps = pl.DataFrame({
        "vid": s_vid, "t": s_ts, "latitude": rng.uniform(25, 48, n), "longitude": rng.uniform(-124, -67, n),
        "headingDegrees": rng.integers(0, 360, n), "speedMilesPerHour": rng.uniform(0, 70, n),
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
    assignments = pl.DataFrame({"vid": ids}).select(
        pl.struct(pl.format("d{}", "vid").alias("id"), pl.lit("Driver").alias("name")).alias("driver"),
        pl.struct(pl.format("s{}", "vid").alias("id")).alias("vehicle"),
        pl.lit(f"{day}T00:00:00Z").alias("startTime"), pl.lit(None, pl.String).alias("endTime"), pl.lit(False).alias("isPassenger"),
    )
    return {"stats": _nd(stats), "assignments": _nd(assignments)}


def _points(n, ids, start, rng):
    import numpy as np

    vid = ids[rng.integers(0, len(ids), n)] if len(ids) else np.zeros(0, dtype=np.int64)
    ts = start + rng.integers(0, 86_400, n) * 1_000_000
    dup = rng.random(n) < 0.01  # repeated points (same vehicle, same second)
    ts[dup] = ts[np.maximum(np.flatnonzero(dup) - 1, 0)]
    vid[dup] = vid[np.maximum(np.flatnonzero(dup) - 1, 0)]
    return vid, ts


def _nd(df) -> bytes:
    return df.write_ndjson().encode()


def generate_raw(rows: int, vehicles: int, day: str, seed: int = 0) -> dict[str, bytes]:
    """Raw NDJSON files for one day: Motive vehicles/locations and Samsara stats/assignments (half the points each)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    mv = vehicles // 2
    return {**_motive_raw(rows // 2, np.arange(mv), day, rng), **_samsara_raw(rows - rows // 2, np.arange(vehicles - mv), day, rng)}


def write_sharded_raw(raw_dir: Path, rows: int, vehicles: int, day: str, shard_rows: int | None = None) -> int:
    """Generate the day shard by shard straight into the raw store (as a sharded fetch stores it); returns N.

    Same generator and mix as :func:`generate_raw`; each shard holds the points of the vehicles whose dedup
    identity hashes to it (rows in proportion), so no process ever holds the whole day.
    """
    import numpy as np

    from fleet_assets.storage.raw_store import shard_file, write_raw
    from fleet_assets.transforms.shards import SHARD_ROWS, identity_shards, shard_count

    mv = vehicles // 2
    m_ids, s_ids = np.arange(mv), np.arange(vehicles - mv)
    shards = shard_count(rows // 2, shard_rows or SHARD_ROWS)
    m_shard = identity_shards("motive", [str(i) for i in m_ids], [f"MVIN{i:013d}" if i % 10 else None for i in m_ids], shards)
    s_shard = identity_shards("samsara", [f"s{i}" for i in s_ids], [f"SVIN{i:013d}" for i in s_ids], shards)
    m_of = np.array([m_shard[str(i)] for i in m_ids])
    s_of = np.array([s_shard[f"s{i}"] for i in s_ids])

    def pieces(provider: str):
        for k in range(shards):
            rng = np.random.default_rng(1000 + k)
            if provider == "motive":
                ids = m_ids[m_of == k]
                files = _motive_raw(round(rows // 2 * len(ids) / len(m_ids)), ids, day, rng)
                if k == 0:
                    yield "vehicles", _motive_raw(0, m_ids, day, rng)["vehicles"]
                yield shard_file("locations", k, shards), files["locations"]
            else:
                ids = s_ids[s_of == k]
                files = _samsara_raw(round((rows - rows // 2) * len(ids) / len(s_ids)), ids, day, rng)
                for name in ("stats", "assignments"):
                    yield shard_file(name, k, shards), files[name]

    write_raw(raw_dir, "motive", day, pieces("motive"), {"shards": shards, "units": None})
    write_raw(raw_dir, "samsara", day, pieces("samsara"), {"shards": shards})
    return shards


def read_whole_raw(raw_dir: Path, day: str) -> dict[str, bytes]:
    """The day's raw files with each file's shards concatenated (what an unsharded fetch stores)."""
    from fleet_assets.storage.raw_store import read_raw

    out: dict[str, bytes] = {}
    for provider in ("motive", "samsara"):
        fetch = read_raw(raw_dir, provider, day)
        for name in fetch.names:
            base = name if name == "vehicles" or fetch.shards == 1 else name.rsplit("_", 1)[0]
            out[base] = out.get(base, b"") + fetch.read(name)
    return out


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


def run_streamed(storage, day: str, workers: int | None = None) -> dict:
    """Ours, shard by shard: the library's streamed day (``TelemetryFromRaw``: per shard gunzip -> parse -> normalize
    both providers -> dedup in worker processes), row groups appended in shard order, one atomic publish.

    Stage figures are CPU seconds summed over the workers (the stages overlap in time); ``cpu_s`` is this
    process plus its worker processes (``RUSAGE_CHILDREN``, counted once the pool has exited).
    """
    try:
        from fleet_assets.provider_ingest.normalize import TelemetryFromRaw
    except ImportError:  # a --baseline revision from before the library class: its loop, as it was benchmarked
        return run_streamed_loop(storage, day)
    import contextlib

    from fleet_assets.schema import TELEMETRY_SCHEMA
    from fleet_assets.storage.parquet_partitions import partition_writer

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0, t0 = time.process_time(), time.perf_counter()
    streamed = TelemetryFromRaw(storage.raw_dir, day, workers=workers)
    write_cpu = 0.0
    with partition_writer(storage.dataset("telemetry"), day, TELEMETRY_SCHEMA) as out, \
            contextlib.closing(streamed.tables()) as tables:
        for k, table in enumerate(tables):
            w0 = time.process_time()
            out.write(table, shard=k, shards=streamed.shards)
            write_cpu += time.process_time() - w0
        w0 = time.process_time()
    write_cpu += time.process_time() - w0  # the file's footer and the atomic publish
    total = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    cpu = streamed.cpu_s
    return {"read_s": cpu["gunzip"], "parse_s": cpu["parse"], "normalize_s": cpu["normalize"], "dedup_s": cpu["dedup"],
            "hand_over_s": cpu["hand_over"], "write_s": write_cpu, "total_s": total, "rows_in": streamed.rows_in,
            "rows_out": out.result.rows, "raw_mb": streamed.ndjson_bytes / 1e6, "shards": streamed.shards,
            "workers": streamed.workers, "stages": "cpu_s summed over workers", "cpu_s": time.process_time() - c0 + child_cpu,
            "worker_peak_rss_mb": after.ru_maxrss / 1024 if streamed.workers > 1 else None}


def run_streamed_loop(storage, day: str) -> dict:
    """The streamed day as the benchmark's own loop (code before ``TelemetryFromRaw``; stage figures are
    wall seconds in one process)."""
    import pyarrow as pa

    from fleet_assets.schema import TELEMETRY_SCHEMA
    from fleet_assets.storage.parquet_partitions import partition_writer
    from fleet_assets.storage.raw_store import read_raw
    from fleet_assets.transforms import dedup_telemetry, normalize_motive, normalize_samsara
    from fleet_assets.transforms.motive import motive_locations_table, motive_vehicles_table
    from fleet_assets.transforms.wire import SAMSARA_ASSIGNMENT_SCHEMA, SAMSARA_STATS_SCHEMA, as_table

    t = dict.fromkeys(("read_s", "parse_s", "normalize_s", "dedup_s", "write_s"), 0.0)
    rows_in = rows_out = raw_bytes = 0
    t_start = time.perf_counter()
    motive, samsara = read_raw(storage.raw_dir, "motive", day), read_raw(storage.raw_dir, "samsara", day)
    if motive.shards != samsara.shards:
        raise SystemExit("both providers must be stored with the same shard count")
    vehicles = motive_vehicles_table(motive.read("vehicles"))
    with partition_writer(storage.dataset("telemetry"), day, TELEMETRY_SCHEMA) as out:
        for k in range(motive.shards):
            t0 = time.perf_counter()
            files = [motive.shard("locations", k), samsara.shard("stats", k), samsara.shard("assignments", k)]
            raw_bytes += sum(map(len, files))
            t1 = time.perf_counter()
            locations = motive_locations_table(files[0])
            stats = as_table(files[1], SAMSARA_STATS_SCHEMA, "stats")
            assignments = as_table(files[2], SAMSARA_ASSIGNMENT_SCHEMA, "assignments")
            del files
            t2 = time.perf_counter()
            both = pa.concat_tables([normalize_motive(vehicles, locations, day), normalize_samsara(stats, assignments, day)])
            del locations, stats, assignments
            t3 = time.perf_counter()
            deduped = dedup_telemetry(both)
            rows_in += both.num_rows
            del both
            t4 = time.perf_counter()
            out.write(deduped.table, shard=k, shards=motive.shards)
            rows_out += deduped.table.num_rows
            del deduped
            t5 = time.perf_counter()
            for key, a, b in (("read_s", t0, t1), ("parse_s", t1, t2), ("normalize_s", t2, t3), ("dedup_s", t3, t4), ("write_s", t4, t5)):
                t[key] += b - a
    total = time.perf_counter() - t_start
    t["write_s"] += total - sum(t.values())  # the publish at the end of the block
    return {**t, "total_s": total, "rows_in": rows_in, "rows_out": rows_out, "raw_mb": raw_bytes / 1e6, "shards": motive.shards}


def run_asset(storage, day: str, name: str) -> dict:
    """One real Dagster asset of the chain (normalized_motive, normalized_samsara, telemetry) under dg.materialize;
    ``all``: the three in one run."""
    import dagster as dg

    from fleet_assets.provider_ingest import assets

    names = ["normalized_motive", "normalized_samsara", "telemetry"] if name == "all" else [name]
    t0 = time.perf_counter()
    result = dg.materialize([getattr(assets, n) for n in names], partition_key=day, resources={"storage": storage})
    meta = result.asset_materializations_for_node(names[-1])[0].metadata
    checks = result.get_asset_check_evaluations()
    return {"total_s": time.perf_counter() - t0, "rows_out": meta["dagster/row_count"].value,
            "checks_passed": all(c.passed for c in checks), "shards": meta["shards"].value}


def content_hash(path: Path) -> dict:
    """Order-independent hash of a Parquet file's rows (DuckDB), so differently ordered outputs compare."""
    import duckdb

    con = duckdb.connect()
    rows, digest = con.execute(f"SELECT count(*), sum(hash(t)::HUGEINT)::VARCHAR FROM read_parquet('{path}') t").fetchone()
    return {"rows": rows, "hash": digest}


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
    if args.worker in ("gen", "before", "naive-raw", "streamed", "asset", "hash"):
        from fleet_assets.warehouse.resources import FleetStorage

        storage = FleetStorage(data_dir=args.dir)  # embedded store: raw/ and parquet/ under --dir
        t0 = time.perf_counter()
        if args.worker == "gen":
            result = {"shards": write_sharded_raw(storage.raw_dir, args.rows, args.vehicles, args.day, args.shard_rows)}
        elif args.worker == "hash":
            result = content_hash(Path(args.target))
        elif args.worker == "streamed":
            c0 = time.process_time()
            result = run_streamed(storage, args.day, args.workers)
            result.setdefault("cpu_s", time.process_time() - c0)  # all threads: steadier than wall time on a loaded machine
        elif args.worker == "asset":
            result = run_asset(storage, args.day, args.asset)
        else:
            raw = read_whole_raw(storage.raw_dir, args.day)
            read_s = time.perf_counter() - t0
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            out = Path(args.dir) / ("before" if args.worker == "before" else "naive")
            out.mkdir(exist_ok=True)
            c0 = time.process_time()
            result = (run_ours if args.worker == "before" else run_naive)(raw, args.day, out)
            result["cpu_s"] = time.process_time() - c0  # includes the publish_s of "before" (reported apart)
            result.update(read_s=read_s, raw_mb=sum(map(len, raw.values())) / 1e6, rss_after_input_mb=rss_before / 1024)
        result["wall_s"] = time.perf_counter() - t0
        result["code"] = str(Path(sys.modules["fleet_assets"].__file__).parent.parent)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        result["children_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # worker processes
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        out = Path(tmp)
        result = run_history(args.path, args.history_days, args.history_rows, out)
        result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(result))


def spawn(*argv: str, code: str | None = None) -> dict:
    """Run one worker; ``code``: a directory holding another ``fleet_assets/`` to import instead of this tree's."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [code, os.environ.get("PYTHONPATH")]))} if code else None
    proc = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, cwd=REPO, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"worker {argv} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")), platform.processor())
    return f"nproc={os.cpu_count()}, CPU {cpu}, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def _line(name: str, r: dict, rows: int) -> str:
    rate = rows / r["total_s"] if r.get("total_s") else 0
    return f"{name:22s} {r.get('total_s', r['wall_s']):8.2f} s  {rate:>12,.0f} rows/s  peak RSS {r['peak_rss_mb']:7,.0f} MB  {json.dumps(r)}"


def checkout(rev: str, into: Path) -> Path:
    """``fleet_assets/`` as of git revision ``rev`` (the baseline code for a side-by-side run)."""
    archive = subprocess.run(["git", "archive", rev, "fleet_assets"], cwd=REPO, capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"--baseline {rev}: {archive.stderr.decode().strip()}")
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def run_day(rows: int, vehicles: int, day: str, compare: bool, baseline: str | None = None, assets: bool = True,
            workers_arg: int | None = None) -> dict:
    """One day through every stage, each in its own subprocess (peak RSS per stage)."""
    results: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        common = ("--dir", tmp, "--day", day)
        print(f"## day of {rows:,} points, {vehicles:,} vehicles", flush=True)
        gen = spawn("--worker", "gen", "--rows", str(rows), "--vehicles", str(vehicles), *common)
        print(f"generate (sharded raw store): {gen['wall_s']:.1f} s, {gen['shards']} shards, peak RSS {gen['peak_rss_mb']:,.0f} MB", flush=True)
        hashes = {}
        code = checkout(baseline, Path(tmp) / "baseline-code") if baseline and compare else None
        for name in ("streamed", "streamed-baseline") if code else ("streamed",):
            shutil.rmtree(Path(tmp) / "parquet" / "telemetry", ignore_errors=True)
            workers = ("--workers", str(workers_arg)) if workers_arg and name == "streamed" else ()
            r = results[name] = spawn("--worker", "streamed", *common, *workers, code=str(code) if name != "streamed" else None)
            print(_line(f"{name} ({'this tree' if name == 'streamed' else baseline})", r, r["rows_in"]), flush=True)
            print(f"  parse {r['parse_s']:.2f} s = {r['raw_mb'] / r['parse_s']:,.0f} MB/s; "
                  f"normalize+dedup {r['normalize_s'] + r['dedup_s']:.2f} s = "
                  f"{r['rows_in'] / (r['normalize_s'] + r['dedup_s']):,.0f} rows/s; gunzip {r['read_s']:.2f} s; "
                  f"write {r['write_s']:.2f} s; code {r['code']}", flush=True)
            hashes[name] = spawn("--worker", "hash", "--target", f"{tmp}/parquet/telemetry/date={day}/part-0.parquet", *common)
        streamed = results["streamed"]
        n = streamed["rows_in"]
        for name in ("normalized_motive", "normalized_samsara", "telemetry") if assets else ():
            r = results[name] = spawn("--worker", "asset", "--asset", name, *common)
            print(_line(f"asset {name}", r, r["rows_out"]) + ("" if r["checks_passed"] else "  CHECKS FAILED"), flush=True)
        if compare:
            for path in ("before", "naive"):
                r = results[path] = spawn("--worker", "naive-raw" if path == "naive" else "before", *common)
                print(_line("before (whole day, this tree)" if path == "before" else "naive (hub style)", r, r["rows_in"]), flush=True)
            before = results["before"]
            print(f"  before: parse {before['parse_s']:.2f} s = {before['raw_mb'] / before['parse_s']:,.0f} MB/s; normalize+dedup "
                  f"{before['normalize_s'] + before['dedup_s']:.2f} s = {before['rows_in'] / (before['normalize_s'] + before['dedup_s']):,.0f} rows/s", flush=True)
            hashes["before"] = spawn("--worker", "hash", "--target", f"{tmp}/before/telemetry/date={day}/part-0.parquet", *common)
            naive = results["naive"]
            naive_rate = naive["rows_in"] / naive["total_s"]
            ratios = {name: (results[name]["rows_in"] / results[name]["total_s"]) / naive_rate
                      for name in ("streamed", "streamed-baseline", "before") if name in results}
            print("end-to-end ratio vs naive: " + "; ".join(f"{name} {ratio:.1f}x" for name, ratio in ratios.items()), flush=True)
            cpu = {name: naive["cpu_s"] / results[name]["cpu_s"] for name in ("streamed", "streamed-baseline") if name in results}
            print("CPU-seconds ratio vs naive (naive cpu_s / cpu_s): " + "; ".join(f"{name} {r:.1f}x" for name, r in cpu.items()), flush=True)
        print(f"sorted-content hashes: {json.dumps(hashes)}; same = {len({(h['rows'], h['hash']) for h in hashes.values()}) == 1}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Results go to stdout; copy them into benchmarks/RESULTS.md.")
    parser.add_argument("--quick", action="store_true", help="small sizes (200k rows, 10 history days) for a smoke run")
    parser.add_argument("--rows", type=int, default=5_000_000, help="points in the benchmarked day (default 5M; e.g. 20000000)")
    parser.add_argument("--vehicles", type=int, help="vehicles in the synthetic fleet (default rows / 2,500: 2,000 at 5M, 8,000 at 20M)")
    parser.add_argument("--compare-rows", type=int, default=5_000_000,
                        help="size of the day also run through today's code and the naive path, with hashes compared "
                        "(default 5M; 0 = none). The naive path cannot hold 20M rows on 24 GB.")
    parser.add_argument("--history-days", type=int, default=90, help="days of history for the re-run comparison")
    parser.add_argument("--history-rows", type=int, default=100_000, help="rows per history day (naive rewrites all of them)")
    parser.add_argument("--skip-history", action="store_true", help="skip the 1-day vs N-day re-run comparison")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run the streamed path with fleet_assets/ as of git revision REV (e.g. main), side by "
                        "side on the compared day, with its sorted-content hash")
    parser.add_argument("--skip-assets", action="store_true", help="skip the three Dagster asset runs")
    parser.add_argument("--workers", type=int, help="worker processes of the streamed day (default: one per CPU, "
                        "at most one per shard; 1 = in process)")
    parser.add_argument("--day", default="2026-02-01", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["history", "gen", "before", "naive-raw", "streamed", "asset", "hash"], help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=["ours", "naive"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--asset", help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--shard-rows", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    if args.quick:
        args.rows, args.compare_rows, args.history_days, args.history_rows = 200_000, 200_000, 10, 20_000
    if args.rows < 1 or args.compare_rows < 0:
        parser.error("--rows must be positive and --compare-rows >= 0")
    print(f"# machine: {machine()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    print(f"# command: python benchmarks/pipeline_write.py {' '.join(argv if argv is not None else sys.argv[1:])}", flush=True)
    for rows in sorted({args.rows, args.compare_rows} - {0}):
        vehicles = args.vehicles or max(2, rows // 2500)
        run_day(rows, vehicles, args.day, compare=rows == args.compare_rows, baseline=args.baseline, assets=not args.skip_assets,
                workers_arg=args.workers)
        print(f"# load average {os.getloadavg()[0]:.2f}", flush=True)
    if not args.skip_history:
        for path in ("ours", "naive"):
            for days in (1, args.history_days):
                print(f"running {path}: re-run with {days} day(s) of history ...", file=sys.stderr, flush=True)
                h = spawn("--worker", "history", "--path", path, "--history-days", str(days), "--history-rows", str(args.history_rows))
                print(f"{path:5s} re-run one day ({args.history_rows:,} rows) with {days:3d} day(s) of history: {h['rerun_s']:.3f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
