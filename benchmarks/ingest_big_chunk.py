"""One near-limit chunk against the ingest server: its upload time, and how the server answers others meanwhile.

Starts ``fleet-ingest-server`` (one process, fsync on) on 127.0.0.1, then PUTs one chunk of ``--events`` records
(200k by default: about 57 MB of NDJSON, under the 8 MiB gzip / 64 MiB decompressed limits) while

* a prober GETs ``/healthz`` back to back on its own connection (latency p50 / p99 / max while the big chunk is
  in flight, and idle before it), and
* another device-side client PUTs small chunks (900 records) of another trip one after another (their latency).

Loopback only. ``--server-arg`` passes options through to the server (e.g. ``--server-arg=--validate-workers=0``
for validation on the event loop's thread pool, the old behaviour).

    .venv/bin/python benchmarks/ingest_big_chunk.py
    .venv/bin/python benchmarks/ingest_big_chunk.py --repeats 3 --server-arg=--validate-workers=0
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from fleet_protocol import CHUNK_CONTENT_TYPE, sha256_hex

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest_load import KEY, VIN, Server, _cpu  # noqa: E402  (same folder: one server harness)

from fleet_assets.ingest.synthetic import synthetic_trip, utc  # noqa: E402

HEADERS = {"Authorization": f"Bearer {KEY}"}


def _put(client: httpx.Client, trip_id: str, no: int, body: bytes) -> float:
    started = time.perf_counter()
    resp = client.put(f"/v1/trips/{trip_id}/chunks/{no}", content=body, headers={
        "Idempotency-Key": f"{trip_id}:{no}", "X-Chunk-SHA256": sha256_hex(body), "Content-Type": CHUNK_CONTENT_TYPE})
    if resp.status_code != 201:
        raise RuntimeError(f"chunk rejected: {resp.status_code} {resp.text[:300]}")
    return time.perf_counter() - started


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _ms(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(_pct(values, 0.5) * 1e3, 1), "p99": round(_pct(values, 0.99) * 1e3, 1),
            "max": round(max(values) * 1e3, 1)}


def run_once(big, small, server_args: list[str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="ingest-big-") as tmp:
        server = Server(Path(tmp), fsync=True, extra_args=server_args)
        try:
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=300) as setup:
                for trip in (big, small):
                    setup.post("/v1/trips", json=trip.create_body()).raise_for_status()
            probe = httpx.Client(base_url=server.url, timeout=60)
            idle = []
            for _ in range(50):
                started = time.perf_counter()
                probe.get("/healthz").raise_for_status()
                idle.append(time.perf_counter() - started)
            done = threading.Event()
            health: list[float] = []
            small_puts: list[float] = []

            def prober() -> None:
                while not done.is_set():
                    started = time.perf_counter()
                    probe.get("/healthz").raise_for_status()
                    health.append(time.perf_counter() - started)
                    time.sleep(0.01)

            def small_uploader() -> None:
                with httpx.Client(base_url=server.url, headers=HEADERS, timeout=300) as client:
                    for no, body in small.chunks.items():
                        if done.is_set():
                            break
                        small_puts.append(_put(client, small.trip_id, no, body))

            threads = [threading.Thread(target=prober), threading.Thread(target=small_uploader)]
            with httpx.Client(base_url=server.url, headers=HEADERS, timeout=300) as client:
                for t in threads:
                    t.start()
                big_s = _put(client, big.trip_id, 1, big.chunks[1])
            done.set()
            for t in threads:
                t.join()
            probe.close()
        finally:
            server.stop()
    return {"big_chunk_s": round(big_s, 2), "healthz_idle_ms": _ms(idle), "healthz_during_ms": _ms(health),
            "small_puts_during_ms": _ms(small_puts)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000, help="records in the big chunk (default 200000)")
    parser.add_argument("--repeats", type=int, default=1, help="runs; the one with the median big-chunk time is shown")
    parser.add_argument("--server-arg", action="append", default=[], help="extra fleet-ingest-server option")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    print(f"generating one chunk of {args.events} records ...", flush=True)
    big = synthetic_trip(VIN, str(uuid.uuid4()), utc(2025, 3, 4, 8), args.events, per_chunk=args.events)
    small = synthetic_trip(VIN, str(uuid.uuid4()), utc(2025, 3, 4, 8), 900 * 60, per_chunk=900)
    raw = len(__import__("gzip").decompress(big.chunks[1]))
    print(f"big chunk: {len(big.chunks[1]) / 1e6:.2f} MB gzip, {raw / 1e6:.1f} MB NDJSON; small chunks: "
          f"{len(small.chunks[1]) / 1e3:.0f} kB each", flush=True)
    runs = []
    for round_no in range(1, args.repeats + 1):
        runs.append(run_once(big, small, args.server_arg))
        print(f"run {round_no}: {runs[-1]}", flush=True)
    result = sorted(runs, key=lambda r: r["big_chunk_s"])[len(runs) // 2]
    print(f"\nmachine: nproc={os.cpu_count()} cpu={_cpu()} python={platform.python_version()}; "
          f"load average at start {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}, "
          f"at end {os.getloadavg()[0]:.2f}; server args {args.server_arg or '(default)'}; "
          f"median of {args.repeats} (by big-chunk time); all big-chunk times "
          f"{[r['big_chunk_s'] for r in runs]} (median {statistics.median(r['big_chunk_s'] for r in runs)})")
    h, s, i = result["healthz_during_ms"], result["small_puts_during_ms"], result["healthz_idle_ms"]
    print("| big chunk s | /healthz idle p50 ms | /healthz during p50 / p99 / max ms (n) | small PUTs during p50 / max ms (n) |")
    print("|---:|---:|---|---|")
    print(f"| {result['big_chunk_s']} | {i['p50']} | {h.get('p50')} / {h.get('p99')} / {h.get('max')} ({h['n']}) | "
          f"{s.get('p50')} / {s.get('max')} ({s['n']}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
