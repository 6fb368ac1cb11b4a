"""Benchmark: one day of a fleet fetched from the loopback sandbox, ours vs the naive serial way.

Each mode gets a *fresh* ``fleet-sandbox serve`` subprocess (so no server-side
cache favours the second run) with a fixed per-response latency and a
server-side rate limit per provider. Both modes send the same requests
(Motive: vehicle pages + one padded location call per vehicle; Samsara:
the stats-history walk and the assignments walks: unfiltered plus one per
documented ``assignmentType``, which Samsara needs for assignments outside
trips).

* ours   - MotiveClient/SamsaraClient: asyncio fan-out (<= 10 in flight),
           client-side token bucket at the server's rate, shared 429 pause,
           and Samsara's per-endpoint caps (assignments 5 req/s, paced at 90 %).
* serial - the Fleet Telemetry Hub way: one request at a time with a plain
           httpx.Client, sleeping ``Retry-After + 0.5 s`` on a 429.

The lower bound is (successful requests) / (rate limit), with the assignments
requests at Samsara's documented 5 req/s: no client can go faster without
being refused by the real API. The sandbox does not enforce per-endpoint caps,
so the serial client may beat that bound here; against Samsara it would be
answered 429. Reported: wall time, lower bound, ratio, and
serial / ours. Example::

    .venv/bin/python benchmarks/provider_fetch.py                 # 500 vehicles
    .venv/bin/python benchmarks/provider_fetch.py --quick         # 50 vehicles

``--raw-day`` measures instead what the raw assets do with a day: fetch and store it in the raw store, each
provider and mode in its own subprocess (peak RSS = ``ru_maxrss`` of that process; the sandbox server is a
separate process and does not count). *stream* is raw_<p>'s path (pages staged on local disk, raw pieces
written shard by shard); *lists* is the path before it (the client's list API holding the day, split into
shards in memory; the same files); with ``--base DIR`` also *before*: the raw assets' own fetch code of
another source tree (``git archive`` of the commit before streaming). ``--shard-rows`` shrinks shards
(default: ``SHARD_ROWS``)::

    git archive d3ba08f fleet_assets | tar -x -C /tmp/base
    .venv/bin/python benchmarks/provider_fetch.py --raw-day --vehicles 200 --interval 30 --rate-limit 0 \
        --latency-ms 0 --samsara-page-size 10 --base /tmp/base
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import subprocess
import tempfile
import sys
import time
from datetime import UTC, datetime, timedelta

import httpx

from fleet_assets.providers import MotiveClient, SamsaraClient
from fleet_assets.providers.motive import DATE_PAD
from fleet_assets.providers.retry_after import parse_retry_after
from fleet_assets.providers.samsara import ASSIGNMENT_TYPES, STATS_TYPES
from fleet_assets.providers.timeutil import rfc3339_z

MOTIVE_KEY, SAMSARA_TOKEN = "bench-motive-key", "bench-samsara-token"
ASSIGNMENTS_CAP = 5.0  # GET /fleet/driver-vehicle-assignments, req/s (Samsara API reference)


@contextlib.contextmanager
def sandbox(args) -> str:
    """A fresh ``fleet-sandbox serve`` subprocess on a free loopback port; yields its URL."""
    cmd = [sys.executable, "-m", "fleet_assets.sandbox.cli", "serve", "--port", "0",
           "--vehicles", str(args.vehicles), "--interval", str(args.interval), "--latency-ms", str(args.latency_ms),
           *(["--rate-limit", str(args.rate_limit)] if args.rate_limit else []),  # 0: no server limit
           "--samsara-page-size", str(args.samsara_page_size),
           "--motive-key", MOTIVE_KEY, "--samsara-token", SAMSARA_TOKEN]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # this checkout's sandbox, also for --base
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        if " at " not in line:
            raise RuntimeError(f"sandbox did not start: {line!r}")
        url = line.split(" at ")[1].strip()
        time.sleep(1.1)  # let the server's rate-limit bucket fill, as for any fresh client
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_ours(url: str, start: datetime, end: datetime, args) -> dict:
    common = dict(rate_limit_per_s=args.rate_limit, rate_limit_burst=1, max_concurrency=10, read_timeout_s=60.0)
    motive = MotiveClient.from_key(MOTIVE_KEY, url, **common)
    samsara = SamsaraClient.from_token(SAMSARA_TOKEN, url, **common)
    t0 = time.perf_counter()
    result = motive.fetch_vehicle_locations(start, end)
    t_motive = time.perf_counter() - t0
    stats = samsara.fetch_stats_history(start, end)
    before = samsara.requests_sent
    assignments = samsara.fetch_driver_assignments(start, end)
    assignment_requests = samsara.requests_sent - before
    wall = time.perf_counter() - t0
    if result.failed_vehicle_ids:
        raise RuntimeError(f"ours: {len(result.failed_vehicle_ids)} vehicles failed")
    counts = motive.status_counts + samsara.status_counts
    return {"wall_s": wall, "motive_s": t_motive, "ok": counts[200], "rate_limited": counts[429],
            "assignment_requests": assignment_requests,
            "records": sum(map(len, result.locations.values())) + sum(len(s.get("gps", [])) for s in stats)
            + len(assignments)}


def run_serial(url: str, start: datetime, end: datetime, args) -> dict:
    """The hub's loop: fetch_all per endpoint, one request at a time, Retry-After + 0.5 s on a 429."""
    stats = {"ok": 0, "rate_limited": 0}

    def get(client: httpx.Client, path: str, params: dict) -> dict:
        while True:
            r = client.get(path, params=params)
            if r.status_code == 429:
                stats["rate_limited"] += 1
                time.sleep((parse_retry_after(r.headers.get("Retry-After")) or 1.0) + 0.5)
                continue
            r.raise_for_status()
            stats["ok"] += 1
            return r.json()

    records = 0
    t0 = time.perf_counter()
    with httpx.Client(base_url=url, headers={"X-API-Key": MOTIVE_KEY}, timeout=60) as m:
        vehicles, page = [], 1
        while True:
            body = get(m, "/v1/vehicles", {"page_no": page, "per_page": 100})
            vehicles += [v["vehicle"] for v in body["vehicles"]]
            if page * body["pagination"]["per_page"] >= body["pagination"]["total"]:
                break
            page += 1
        last = end - timedelta(microseconds=1) + DATE_PAD  # the same padded dates our client sends
        dates = {"start_date": (start - DATE_PAD).date().isoformat(), "end_date": last.date().isoformat()}
        for v in vehicles:
            body = get(m, f"/v3/vehicle_locations/{v['id']}", dates)
            records += sum(start <= datetime.fromisoformat(x["vehicle_location"]["located_at"].replace("Z", "+00:00"))
                           < end for x in body["vehicle_locations"])
    t_motive = time.perf_counter() - t0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SAMSARA_TOKEN}"}, timeout=60) as s:
        window = {"startTime": rfc3339_z(start), "endTime": rfc3339_z(end)}
        assign = {**window, "filterBy": "vehicles"}
        seen: set[str] = set()

        def new_rows(rows: list[dict]) -> int:  # the same union as ours: exact duplicates once
            keys = {json.dumps(r, sort_keys=True) for r in rows} - seen
            seen.update(keys)
            return len(keys)
        walks = [("/fleet/vehicles/stats/history", {**window, "types": ",".join(STATS_TYPES)},
                  lambda d: sum(len(x.get("gps", [])) for x in d))]
        walks += [("/fleet/driver-vehicle-assignments", assign, new_rows)]
        walks += [("/fleet/driver-vehicle-assignments", {**assign, "assignmentType": kind}, new_rows)
                  for kind in ASSIGNMENT_TYPES]
        for path, params, count in walks:
            after = None
            while True:
                body = get(s, path, {**params, **({"after": after} if after else {})})
                records += count(body["data"])
                if path.endswith("assignments"):
                    stats["assignment_requests"] = stats.get("assignment_requests", 0) + 1
                if not body["pagination"]["hasNextPage"]:
                    break
                after = body["pagination"]["endCursor"]
    return {"wall_s": time.perf_counter() - t0, "motive_s": t_motive, **stats, "records": records}



def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def store_day(url: str, provider: str, mode: str, day: str, directory: str, shard_rows: int, rate: float) -> dict:
    """Fetch one provider's day from ``url`` and store it as the raw asset does (``stream``) or did (``lists``)."""
    from fleet_assets.provider_ingest.fetch import (fetch_motive_day, fetch_samsara_day, motive_raw_files,
                                                    samsara_raw_files)
    from fleet_assets.storage.raw_store import read_raw, write_raw
    from fleet_assets.transforms.wire import motive_location_records, motive_vehicle_records

    common = dict(rate_limit_per_s=rate or 10_000.0, max_concurrency=10, read_timeout_s=120.0)
    motive = provider == "motive"
    client = (MotiveClient.from_key(MOTIVE_KEY, url, **common) if motive
              else SamsaraClient.from_token(SAMSARA_TOKEN, url, **common))
    t0 = time.perf_counter()
    if mode in ("stream", "before"):
        fetched = (fetch_motive_day if motive else fetch_samsara_day)(client, day, shard_rows)
        if mode == "before":  # the raw asset's code of --base (before streaming: the day in memory)
            write_raw(directory, provider, day, fetched.files, fetched.manifest)
        else:
            with fetched as raw:
                write_raw(directory, provider, day, raw.pieces(), raw.manifest)
    else:  # before streaming: the whole day in lists, split in memory, then stored
        start = datetime.fromisoformat(day).replace(tzinfo=UTC)
        if motive:
            result = client.fetch_vehicle_locations(start, start + timedelta(days=1))
            locations = motive_location_records(result.locations)
            files, shards = motive_raw_files(motive_vehicle_records(result.vehicles), locations, shard_rows)
            counts = {"locations": len(locations)}
        else:
            stats = client.fetch_stats_history(start - timedelta(days=1), start + timedelta(days=1, minutes=30))
            files, shards = samsara_raw_files(stats, client.fetch_driver_assignments(start, start + timedelta(days=1)),
                                              shard_rows)
            counts = {"gps_points": sum(len(r.get("gps") or []) for r in stats)}
        write_raw(directory, provider, day, files, {"shards": shards, "counts": counts})
    wall = time.perf_counter() - t0
    stored = read_raw(directory, provider, day)
    return {"provider": provider, "mode": mode, "wall_s": wall, "shards": stored.shards,
            "points": stored.manifest["counts"]["locations" if motive else "gps_points"]}


def raw_worker(args) -> dict:
    """``--worker raw``: one provider's raw day fetched and stored by this process; its peak RSS and wall time."""
    with sandbox(args) as url:
        rss0 = _peak_mb()
        row = store_day(url, args.provider, args.mode, args.day, args.dir, args.shard_rows, args.rate_limit)
    peak = _peak_mb()
    return {**row, "rss_after_import_mb": rss0, "peak_rss_mb": peak, "digests": _digests(args.dir, args.provider, args.day)}


def _digests(directory: str, provider: str, day: str) -> dict[str, str]:
    """SHA-256 of each stored raw file (decompressed), one file at a time; compared across modes by the driver
    (the driver must stay small: a forked worker starts with the driver's RSS as its ``ru_maxrss``)."""
    from fleet_assets.storage.raw_store import read_raw

    fetch = read_raw(directory, provider, day)
    return {name: hashlib.sha256(fetch.read(name)).hexdigest() for name in fetch.names}


def growth_worker(args) -> dict:
    """``--worker growth``: both providers' day from a sandbox of ``--small-vehicles``, then from one of
    ``--vehicles`` (both servers are separate processes); peak RSS of this process after each."""
    small = argparse.Namespace(**{**vars(args), "vehicles": args.small_vehicles})
    out: dict = {"mode": args.mode}
    with sandbox(small) as small_url, sandbox(args) as big_url:
        for size, url in (("small", small_url), ("big", big_url)):
            out[size] = [store_day(url, p, args.mode, args.day, f"{args.dir}/{size}", args.shard_rows, args.rate_limit)
                         for p in ("motive", "samsara")]
            out[f"peak_{size}_mb"] = _peak_mb()
    return out


def raw_day(args) -> int:
    """``--raw-day``: stream vs lists per provider, side by side, each in a fresh subprocess and sandbox."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="raw-day-") as tmp:
        for provider in (args.provider,) if args.provider else ("motive", "samsara"):
            for mode in ("before",) * bool(args.base) + ("lists", "stream"):
                env = {**os.environ, "PYTHONPATH": args.base} if mode == "before" else None
                cmd = [sys.executable, __file__, "--worker", "raw", "--provider", provider, "--mode", mode,
                       "--dir", f"{tmp}/{provider}-{mode}", "--day", args.day, "--vehicles", str(args.vehicles),
                       "--interval", str(args.interval), "--latency-ms", str(args.latency_ms),
                       "--rate-limit", str(args.rate_limit), "--shard-rows", str(args.shard_rows),
                       "--samsara-page-size", str(args.samsara_page_size)]
                print(f"  {provider} {mode} ...", flush=True)
                proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
                if proc.returncode:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    return 1
                rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            runs = rows[-2 - bool(args.base):]
            digests = [r.pop("digests") for r in runs]
            for r, d in zip(runs, digests):  # the stored files (each, decompressed) vs the streamed ones
                r["same_files"] = d == digests[-1]
    print("\n| provider | mode | points | shards | wall s | peak RSS MB | RSS after imports MB | same raw files |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['provider']} | {r['mode']} | {r['points']:,} | {r['shards']} | {r['wall_s']:.2f} | "
              f"{r['peak_rss_mb']:.0f} | {r['rss_after_import_mb']:.0f} | {r['same_files']} |")
    print(f"\nmachine: nproc={os.cpu_count()}, python {platform.python_version()}, {platform.platform()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.json:
        print(json.dumps(rows))
    return 0 if all(r["same_files"] for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vehicles", type=int, default=500, help="vehicles per provider (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="50 vehicles (overrides --vehicles)")
    parser.add_argument("--day", default="2026-03-02", help="UTC day to fetch (default: %(default)s)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="per-response latency (default: %(default)s)")
    parser.add_argument("--rate-limit", type=float, default=25.0, help="server req/s per provider, 0 = none (default: %(default)s)")
    parser.add_argument("--interval", type=int, default=300,
                        help="seconds between simulated readings (default: %(default)s)")
    parser.add_argument("--samsara-page-size", type=int, default=50,
                        help="vehicles (record fragments) per Samsara stats page (default: %(default)s)")
    parser.add_argument("--skip-serial", action="store_true", help="measure only our client")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    parser.add_argument("--raw-day", action="store_true",
                        help="measure the raw assets' fetch+store instead (peak RSS, wall; stream vs lists)")
    parser.add_argument("--shard-rows", type=int, default=None, help="points per shard for --raw-day "
                        "(default: fleet_assets.transforms.shards.SHARD_ROWS)")
    parser.add_argument("--base", help="--raw-day: also run the raw assets' fetch of this source tree (e.g. a "
                        "`git archive` of main before streaming) as mode 'before', via PYTHONPATH")
    parser.add_argument("--worker", choices=["raw", "growth"], help=argparse.SUPPRESS)
    parser.add_argument("--small-vehicles", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--provider", choices=["motive", "samsara"], help="--raw-day: only this provider")
    parser.add_argument("--mode", choices=["stream", "lists", "before"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.shard_rows is None:
        from fleet_assets.transforms.shards import SHARD_ROWS

        args.shard_rows = SHARD_ROWS
    if args.worker:
        print(json.dumps((raw_worker if args.worker == "raw" else growth_worker)(args)))
        return 0
    if args.raw_day:
        return raw_day(args)
    if args.quick:
        args.vehicles = 50
    start = datetime.fromisoformat(args.day).replace(tzinfo=UTC)
    end = start + timedelta(days=1)
    print(f"provider_fetch: {args.vehicles} vehicles/provider, day {args.day}, latency {args.latency_ms} ms, "
          f"server limit {args.rate_limit} req/s/provider, readings every {args.interval} s", flush=True)
    rows = {}
    for mode, fn in (("ours", run_ours), ("serial", run_serial)):
        if mode == "serial" and args.skip_serial:
            continue
        print(f"  running {mode} ...", flush=True)
        with sandbox(args) as url:
            rows[mode] = fn(url, start, end, args)
        r = rows[mode]
        assign = r.get("assignment_requests", 0)  # at Samsara's documented 5 req/s
        r["lower_bound_s"] = (r["ok"] - assign) / args.rate_limit + assign / ASSIGNMENTS_CAP
        r["vs_lower_bound"] = r["wall_s"] / r["lower_bound_s"]
        print(f"    {r['ok']} requests (+{r['rate_limited']} answered 429), {r['records']} records, "
              f"{r['wall_s']:.2f} s (Motive part {r['motive_s']:.2f} s)", flush=True)
    if "serial" in rows and rows["serial"]["records"] != rows["ours"]["records"]:
        print(f"WARNING: record counts differ: {rows['serial']['records']} vs {rows['ours']['records']}")
    print("\n| mode | requests | 429s | records | wall s | lower bound s | wall / bound | vs ours |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for mode, r in rows.items():
        print(f"| {mode} | {r['ok']} | {r['rate_limited']} | {r['records']} | {r['wall_s']:.2f} | "
              f"{r['lower_bound_s']:.2f} | {r['vs_lower_bound']:.2f}x | {r['wall_s'] / rows['ours']['wall_s']:.2f}x |")
    print(f"\nmachine: nproc={os.cpu_count()}, python {platform.python_version()}, {platform.platform()}")
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
