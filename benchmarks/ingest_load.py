"""Load test of the trip ingest server on loopback: accepted chunks/s and MB/s.

Starts ``fleet-ingest-server`` (uvicorn, one process) on 127.0.0.1 for each
mode, registers the trips untimed, then times only the chunk PUTs:

* ``concurrent``      N httpx clients in parallel (default 8), fsync on (the production setting)
* ``sequential``      naive baseline: one connection, one chunk after another, fsync on
* ``concurrent-nofsync``  the concurrent load with per-write fsync disabled (what durability costs)
* ``concurrent-Nproc``    the concurrent load against ``--workers N`` server processes (default 2)

Every mode uploads the same pre-generated chunks (real gzip NDJSON, 900
records each, validated line by line by the server) into a fresh data dir.
Bounded by chunk count and --max-seconds; loopback only.

    .venv/bin/python benchmarks/ingest_load.py --quick
    .venv/bin/python benchmarks/ingest_load.py --trips 40 --chunks-per-trip 5 --clients 8
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from fleet_protocol import CHUNK_CONTENT_TYPE, sha256_hex

from fleet_assets.ingest.synthetic import synthetic_trip, utc

VIN = "1FTFW1E50PFA00001"
KEY = "benchmark-device-key"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``fleet-ingest-server`` on a free port; ``keys_file=False`` when the keys live in Postgres (FLEET_STATE_URL in ``env``)."""

    def __init__(self, workdir: Path, fsync: bool, workers: int = 1, extra_args: list[str] | tuple = (),
                 data_name: str = "data", keys_file: bool = True, env: dict | None = None):
        self.data = workdir / data_name
        keys = workdir / "keys.json"
        keys.write_text(json.dumps({"devices": [{"device": "bench", "key_sha256": hashlib.sha256(KEY.encode()).hexdigest(),
                                                 "vins": [VIN]}]}))
        self.port = _port()
        cmd = [sys.executable, "-m", "fleet_assets.ingest.cli", "--data-dir", str(self.data)] + (
            ["--keys-file", str(keys)] if keys_file else []) + [
               "--port", str(self.port), "--log-level", "warning", "--workers", str(workers)] + ([] if fsync else ["--no-fsync"]) + list(extra_args)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=None if env is None else {**os.environ, **env})
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _put(client: httpx.Client, trip_id: str, no: int, body: bytes) -> int:
    resp = client.put(f"/v1/trips/{trip_id}/chunks/{no}", content=body, headers={
        "Idempotency-Key": f"{trip_id}:{no}", "X-Chunk-SHA256": sha256_hex(body), "Content-Type": CHUNK_CONTENT_TYPE})
    if resp.status_code != 201:
        raise RuntimeError(f"chunk rejected: {resp.status_code} {resp.text}")
    return len(body)


def run_mode(name: str, trips, clients: int, fsync: bool, max_seconds: float, workers: int = 1) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"ingest-{name}-") as tmp:
        server = Server(Path(tmp), fsync, workers)
        try:
            headers = {"Authorization": f"Bearer {KEY}"}
            with httpx.Client(base_url=server.url, headers=headers) as setup:
                for trip in trips:
                    setup.post("/v1/trips", json=trip.create_body()).raise_for_status()
            work = [(t.trip_id, no, body) for t in trips for no, body in t.chunks.items()]
            pool_clients = [httpx.Client(base_url=server.url, headers=headers, timeout=60) for _ in range(clients)]
            deadline = time.monotonic() + max_seconds
            started = time.perf_counter()

            def worker(index: int) -> tuple[int, int]:
                sent = nbytes = 0
                for trip_id, no, body in work[index::clients]:
                    if time.monotonic() > deadline:
                        break
                    nbytes += _put(pool_clients[index], trip_id, no, body)
                    sent += 1
                return sent, nbytes

            with ThreadPoolExecutor(clients) as pool:
                results = list(pool.map(worker, range(clients)))
            elapsed = time.perf_counter() - started
            for c in pool_clients:
                c.close()
        finally:
            server.stop()
    chunks = sum(r[0] for r in results)
    nbytes = sum(r[1] for r in results)
    return {"mode": name, "clients": clients, "workers": workers, "fsync": fsync, "chunks": chunks, "seconds": round(elapsed, 3),
            "chunks_per_s": round(chunks / elapsed, 1), "mb_per_s": round(nbytes / elapsed / 1e6, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Results: benchmarks/RESULTS.md, section 'Trip ingest'.")
    parser.add_argument("--quick", action="store_true", help="small run (6 trips x 3 chunks) for a smoke check")
    parser.add_argument("--trips", type=int, default=40)
    parser.add_argument("--chunks-per-trip", type=int, default=5)
    parser.add_argument("--records-per-chunk", type=int, default=900)
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients in the concurrent modes")
    parser.add_argument("--server-workers", type=int, default=2, help="server processes in the multi-process mode")
    parser.add_argument("--max-seconds", type=float, default=120, help="time bound per mode")
    parser.add_argument("--repeats", type=int, default=1, help="rounds over all modes (interleaved); the median round is reported")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    if args.quick:
        args.trips, args.chunks_per_trip = 6, 3
    load_before = os.getloadavg()[0]
    per = args.records_per_chunk
    print(f"generating {args.trips} trips x {args.chunks_per_trip} chunks x {per} records ...", flush=True)
    trips = [synthetic_trip(VIN, str(uuid.uuid4()), utc(2025, 3, 4, 8), args.chunks_per_trip * per, per_chunk=per)
             for _ in range(args.trips)]
    size = sum(len(b) for t in trips for b in t.chunks.values())
    print(f"{sum(len(t.chunks) for t in trips)} chunks, {size / 1e6:.1f} MB gzip", flush=True)
    modes = [("sequential", 1, True, 1), ("concurrent", args.clients, True, 1),
             ("concurrent-nofsync", args.clients, False, 1),
             (f"concurrent-{args.server_workers}proc", args.clients, True, args.server_workers)]
    rounds: dict[str, list[dict]] = {name: [] for name, *_ in modes}
    for round_no in range(1, args.repeats + 1):
        for name, clients, fsync, workers in modes:
            print(f"round {round_no}: {name} ({clients} clients, {workers} server processes, fsync={fsync}) ...", flush=True)
            rounds[name].append(run_mode(name, trips, clients, fsync, args.max_seconds, workers))
            print("  ", rounds[name][-1], flush=True)
    # median round per mode (interleaving the modes spreads background load evenly over them)
    results = [sorted(runs, key=lambda r: r["chunks_per_s"])[len(runs) // 2] for runs in rounds.values()]
    base = results[0]["chunks_per_s"]
    print(f"\nmachine: nproc={os.cpu_count()} cpu={_cpu()} python={platform.python_version()}; "
          f"median of {args.repeats} interleaved rounds; load average at start: {load_before:.2f}")
    print("| mode | clients | server procs | fsync | chunks | s | chunks/s | MB/s | vs sequential |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['mode']} | {r['clients']} | {r['workers']} | {r['fsync']} | {r['chunks']} | {r['seconds']} | {r['chunks_per_s']} | "
              f"{r['mb_per_s']} | {r['chunks_per_s'] / base:.2f}x |")
    if args.json:
        print(json.dumps(results))
    return 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
