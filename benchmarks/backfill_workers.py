"""Backfill with run workers on a deployed instance: 1 vs 2 workers, and 4 concurrent runs with shared provider
budgets (pools) vs without, side by side in one run.

Each mode is a fresh deployment on loopback (scripts/worker_hosts.py): ONE ``dagster-daemon`` and N
``fleet-run-worker`` hosts (own DAGSTER_HOME scratch, own FLEET_DATA_DIR) on PostgreSQL (pgserver: a fresh
Dagster database + state database per mode) and S3 (moto_server, a fresh bucket per mode). Providers are the
sandbox served over HTTP, one fresh server per mode, with latency per response and Motive's documented cap of
10 simultaneous vehicle_locations calls ENFORCED (429 + Retry-After above it), so over-budget fetching shows up
as 429s and as peak concurrency counted at the server. The backfill is the provider pipeline (raw_* ->
normalized_* -> telemetry) for ``--days`` days; wall time runs from the backfill's launch to its last run.

Modes:
* ``1 worker``        one host, one run at a time;
* ``2 workers``       two hosts, one run each at a time;
* ``4 runs, pools``   two hosts x 2 slots = 4 runs at once, pools motive_api/samsara_api = 4: each fetch takes
                      1/4 of each provider's budget (deploy/dagster.yaml as shipped);
* ``4 runs, no pools`` the same 4 runs at once on an instance with no pool or run limit: every fetch believes it
                      owns the whole budget (the situation issue 11 describes).

Honest limit: every process (daemon, code server, workers, each run and its step processes, Postgres, moto, the
sandbox) shares this machine's cores; on 2 cores a second worker can only use idle time (the sandbox's latency
and the daemon's 30 s backfill ticks), it cannot double throughput as a second machine would.

    .venv/bin/python benchmarks/backfill_workers.py --quick
    .venv/bin/python benchmarks/backfill_workers.py --days 8
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ASSETS = ["raw_motive", "raw_samsara", "normalized_motive", "normalized_samsara", "telemetry"]
MODES = [  # name, workers, slots per worker, shared budgets (pool limit) or None
    ("1 worker", 1, 1, 2),
    ("2 workers", 2, 1, 2),
    ("4 runs, pools", 2, 2, 4),
    ("4 runs, no pools", 2, 2, None),
]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


services = _script("local_services")
worker_hosts = _script("worker_hosts")


def _database(admin: str) -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.replace("/postgres?", f"/{name}?", 1)


def run_mode(name: str, workers: int, slots: int, pool_limit: int | None, days: list[str], vehicles: int,
             latency_ms: float, admin: str, s3: str, root: Path) -> dict:
    from fleet_assets.sandbox import SandboxConfig, serve_in_thread

    cfg = SandboxConfig(motive_vehicles=vehicles, samsara_vehicles=max(2, vehicles // 4), interval_s=1800,
                        latency_ms=latency_ms, motive_max_simultaneous=10)
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    services.create_bucket(s3, bucket)
    dagster_db = _database(admin).replace("postgresql://", "postgresql+psycopg2://", 1)
    os.environ["DAGSTER_PG_URL"] = dagster_db  # this process reads the instance too (launch + watch)
    with serve_in_thread(cfg) as url:
        env = {**os.environ, **services.TEST_CREDENTIALS, "AWS_ENDPOINT_URL_S3": s3,
               "FLEET_STORAGE_URL": f"s3://{bucket}/data", "FLEET_STATE_URL": _database(admin),
               "MOTIVE_API_KEY": cfg.motive_api_key, "MOTIVE_BASE_URL": url,
               "SAMSARA_API_TOKEN": cfg.samsara_api_token, "SAMSARA_BASE_URL": url}
        # with pools, the run limit is the workers' slots (deploy/dagster.yaml, VM mode): no launched run waits
        # unclaimed into run monitoring's start timeout
        cluster = worker_hosts.Cluster(root / name.replace(" ", "-").replace(",", ""), env, workers=workers,
                                       slots=slots, shared_budgets=pool_limit is not None,
                                       max_concurrent_runs=workers * slots if pool_limit is not None else None)
        try:
            cluster.start()
            if pool_limit is not None:
                cluster.set_pool("motive_api", pool_limit)
                cluster.set_pool("samsara_api", pool_limit)
            started = time.perf_counter()
            backfill = cluster.launch_backfill(ASSETS, days)
            status, runs = cluster.wait_for_backfill(backfill, timeout=3600)
            wall = time.perf_counter() - started
        finally:
            cluster.stop()
        stats = url.backend.stats()
    return {"mode": name, "wall_s": wall, "status": status, "runs": len(runs),
            "failed_runs": sum(r.status.value != "SUCCESS" for r in runs),
            **{f"{p}_{k}": stats.get(p, {}).get(k, 0) for p in ("motive", "samsara")
               for k in ("requests", "429", "peak_in_flight")},
            "motive_locations_peak": stats.get("motive /v3/vehicle_locations", {}).get("peak_in_flight", 0)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 days, 10 Motive vehicles")
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--vehicles", type=int, default=20, help="Motive vehicles (Samsara: a quarter)")
    parser.add_argument("--latency-ms", type=float, default=500.0, help="sandbox latency per response")
    parser.add_argument("--only", action="append", choices=[m[0] for m in MODES], help="run only these modes")
    args = parser.parse_args(argv)
    days_n, vehicles = (4, 10) if args.quick else (args.days, args.vehicles)
    days = [f"2025-06-{d:02d}" for d in range(1, days_n + 1)]
    print(f"backfill_workers: {days_n} days x {ASSETS}, {vehicles} Motive vehicles, latency {args.latency_ms} ms, "
          f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), load {os.getloadavg()}",
          flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-workers-") as tmp:
        root = Path(tmp)
        with services.postgres(root / "pg") as admin, services.s3(services.free_port(), log=root / "moto.log") as s3:
            for name, workers, slots, pool_limit in MODES:
                if args.only and name not in args.only:
                    continue
                result = run_mode(name, workers, slots, pool_limit, days, vehicles, args.latency_ms, admin, s3, root)
                results.append(result)
                print(f"  {name}: {result['wall_s']:.1f} s, {result['status']}, runs {result['runs']} "
                      f"(failed {result['failed_runs']}), load {os.getloadavg()}", flush=True)
    print("\n| mode | wall s | runs (failed) | Motive requests / 429s / peak in flight (locations) "
          "| Samsara requests / 429s / peak in flight |")
    print("|---|---:|---|---|---|")
    for r in results:
        print(f"| {r['mode']} | {r['wall_s']:.1f} | {r['runs']} ({r['failed_runs']}) | {r['motive_requests']} / "
              f"{r['motive_429']} / {r['motive_peak_in_flight']} ({r['motive_locations_peak']}) | "
              f"{r['samsara_requests']} / {r['samsara_429']} / {r['samsara_peak_in_flight']} |")
    print(f"load average at end: {os.getloadavg()}")
    return 0 if all(r["status"] == "COMPLETED_SUCCESS" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
