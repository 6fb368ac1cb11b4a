"""Ingest replicas: accepted chunks/s with one ``fleet-ingest-server`` vs two on one bucket + Postgres.

Modes, side by side in one run, each with the same pre-generated chunks and the same uploader load
(``--clients`` concurrent httpx clients; with two replicas the clients alternate between them):

* ``embedded-1``  one replica on the embedded default (local data dir, file state), for reference
* ``deployed-1``  one replica, landing zone on S3 (moto_server on loopback), state in Postgres (pgserver)
* ``deployed-2``  two replicas (separate scratch dirs) on the same bucket and database

The benchmark starts moto_server and PostgreSQL itself (a fresh bucket and database per mode), creates
the trips untimed, then times only the chunk PUTs, then completes every trip (untimed) and checks the
completion log is gapless. Honest limit: everything here (replicas, moto, Postgres, the clients) shares
the machine's cores, so a second replica can only help as far as a core is idle; on 2 cores this measures
that replicas work and what they cost, not how they scale on separate hosts.

    .venv/bin/python benchmarks/ingest_replicas.py --quick
    .venv/bin/python benchmarks/ingest_replicas.py --trips 24 --chunks-per-trip 5 --clients 8
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from fleet_assets.ingest.keys import hash_key
from fleet_assets.ingest.state import PostgresState
from fleet_assets.ingest.synthetic import synthetic_trip, utc

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import local_services  # noqa: E402 -- the one way the test services start (scripts/local_services.py)
from ingest_load import KEY, VIN, Server, _cpu, _put  # noqa: E402  (same server start and PUT)

S3_ENV = local_services.TEST_CREDENTIALS


class Services:
    """moto_server + PostgreSQL (pgserver) on loopback for the benchmark's lifetime."""

    def __init__(self, workdir: Path):
        self._stack = contextlib.ExitStack()
        self.endpoint = self._stack.enter_context(local_services.s3())
        self.admin = self._stack.enter_context(local_services.postgres(workdir / "pgdata"))

    def fresh(self) -> dict:
        """Env of a deployment on a fresh bucket and database, the device key already in Postgres."""
        import psycopg

        name = f"bench{uuid.uuid4().hex[:10]}"
        local_services.create_bucket(self.endpoint, name)
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        state_url = self.admin.replace("/postgres?", f"/{name}?", 1)
        state = PostgresState(state_url)
        state.add_device(hash_key(KEY), "bench", [VIN])
        state.close()
        return {**S3_ENV, "AWS_ENDPOINT_URL_S3": self.endpoint, "FLEET_STORAGE_URL": f"s3://{name}/data",
                "FLEET_STATE_URL": state_url}

    def stop(self) -> None:
        self._stack.close()


def run_mode(name: str, trips, clients: int, replicas: int, env: dict | None, workdir: Path) -> dict:
    workdir.mkdir(parents=True)
    servers = [Server(workdir, fsync=True, data_name=f"{name}-r{i}", keys_file=env is None, env=env,
                      extra_args=["--validate-workers", "1"]) for i in range(replicas)]
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        with httpx.Client(base_url=servers[0].url, headers=headers, timeout=60) as setup:
            for trip in trips:
                setup.post("/v1/trips", json=trip.create_body()).raise_for_status()
        work = [(t.trip_id, no, body) for t in trips for no, body in t.chunks.items()]
        pool = [httpx.Client(base_url=servers[i % replicas].url, headers=headers, timeout=120) for i in range(clients)]
        started = time.perf_counter()

        def worker(index: int) -> int:
            return sum(_put(pool[index], trip_id, no, body) and 1 for trip_id, no, body in work[index::clients])

        with ThreadPoolExecutor(clients) as executor:
            chunks = sum(executor.map(worker, range(clients)))
        elapsed = time.perf_counter() - started
        markers = []
        for i, trip in enumerate(trips):  # untimed: completion on alternating replicas
            resp = pool[i % clients].post(f"/v1/trips/{trip.trip_id}/complete", json=trip.manifest_json())
            resp.raise_for_status()
            markers.append(resp.json()["marker"])
        for client in pool:
            client.close()
    finally:
        for server in servers:
            server.stop()
    if sorted(markers) != list(range(1, len(trips) + 1)):
        raise RuntimeError(f"{name}: completion log not gapless: {sorted(markers)}")
    return {"mode": name, "replicas": replicas, "clients": clients, "chunks": chunks, "seconds": round(elapsed, 3),
            "chunks_per_s": round(chunks / elapsed, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     epilog="Results: benchmarks/RESULTS.md, section 'Ingest replicas'.")
    parser.add_argument("--quick", action="store_true", help="small run (6 trips x 3 chunks) for a smoke check")
    parser.add_argument("--trips", type=int, default=24)
    parser.add_argument("--chunks-per-trip", type=int, default=5)
    parser.add_argument("--records-per-chunk", type=int, default=900)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds over all modes; median reported")
    args = parser.parse_args(argv)
    if args.quick:
        args.trips, args.chunks_per_trip = 6, 3
    load_before = os.getloadavg()
    per = args.records_per_chunk
    print(f"generating {args.trips} trips x {args.chunks_per_trip} chunks x {per} records ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="ingest-replicas-") as tmp:
        services = Services(Path(tmp))
        try:
            rounds: dict[str, list[dict]] = {}
            for round_no in range(1, args.repeats + 1):
                for name, replicas, deployed in (("embedded-1", 1, False), ("deployed-1", 1, True),
                                                 ("deployed-2", 2, True)):
                    trips = [synthetic_trip(VIN, str(uuid.uuid4()), utc(2025, 3, 4, 8), args.chunks_per_trip * per,
                                            per_chunk=per) for _ in range(args.trips)]
                    env = services.fresh() if deployed else None
                    result = run_mode(name, trips, args.clients, replicas, env, Path(tmp) / f"{name}-{round_no}")
                    rounds.setdefault(name, []).append(result)
                    print(f"round {round_no}: {result}", flush=True)
        finally:
            services.stop()
    results = [sorted(runs, key=lambda r: r["chunks_per_s"])[len(runs) // 2] for runs in rounds.values()]
    ref = results[1]["chunks_per_s"]
    print(f"\nmachine: nproc={os.cpu_count()} cpu={_cpu()} python={platform.python_version()}; "
          f"load average at start: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}; "
          f"at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; median of {args.repeats} round(s)")
    print("| mode | replicas | clients | chunks | s | chunks/s | vs deployed-1 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['mode']} | {r['replicas']} | {r['clients']} | {r['chunks']} | {r['seconds']} | "
              f"{r['chunks_per_s']} | {r['chunks_per_s'] / ref:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
