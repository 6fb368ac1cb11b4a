"""One near-limit chunk against the ingest server: its upload time, and how the server answers others meanwhile.

Starts ``fleet-ingest-server`` (one process, fsync on) on 127.0.0.1, then PUTs one chunk of ``--events`` records
(200k by default: about 57 MB of NDJSON, under the 8 MiB gzip / 64 MiB decompressed limits) while

* a prober GETs ``/healthz`` back to back on its own connection (latency p50 / p99 / max while the big chunk is
  in flight, and idle before it), and
* another device-side client PUTs small chunks (900 records) of another trip one after another (their latency).

Both modes run, interleaved, on fresh servers: the naive baseline validates in the request's thread
(``--validate-workers=0``, what the server did before issue 12), the default in worker processes. Loopback only;
``--server-arg`` passes more options to the server in both modes.

    .venv/bin/python benchmarks/ingest_big_chunk.py --repeats 3
    .venv/bin/python benchmarks/ingest_big_chunk.py --quick
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
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


MODES = (("in-thread (baseline: --validate-workers=0)", ["--validate-workers=0"]),
         ("worker processes (default)", []))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke size: 50k records, one round")
    parser.add_argument("--events", type=int, default=200_000, help="records in the big chunk (default 200000)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="rounds over both modes (interleaved); the run with the median big-chunk time is shown")
    parser.add_argument("--server-arg", action="append", default=[], help="extra fleet-ingest-server option (both modes)")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.repeats = 50_000, 1
    load_before = os.getloadavg()
    print(f"generating one chunk of {args.events} records ...", flush=True)
    big = synthetic_trip(VIN, str(uuid.uuid4()), utc(2025, 3, 4, 8), args.events, per_chunk=args.events)
    small = synthetic_trip(VIN, str(uuid.uuid4()), utc(2025, 3, 4, 8), 900 * 60, per_chunk=900)
    raw = len(gzip.decompress(big.chunks[1]))
    print(f"big chunk: {len(big.chunks[1]) / 1e6:.2f} MB gzip, {raw / 1e6:.1f} MB NDJSON; small chunks: "
          f"{len(small.chunks[1]) / 1e3:.0f} kB each", flush=True)
    runs: dict[str, list[dict]] = {name: [] for name, _ in MODES}
    for round_no in range(1, args.repeats + 1):
        for name, mode_args in MODES:
            runs[name].append(run_once(big, small, mode_args + args.server_arg))
            print(f"round {round_no}, {name}: {runs[name][-1]}", flush=True)
    print(f"\nmachine: nproc={os.cpu_count()} cpu={_cpu()} python={platform.python_version()}; "
          f"load average at start {load_before[0]:.2f} / {load_before[1]:.2f} / {load_before[2]:.2f}, "
          f"at end {os.getloadavg()[0]:.2f}; extra server args {args.server_arg or '(none)'}; "
          f"median of {args.repeats} interleaved round(s) by big-chunk time")
    print("| mode | big chunk s (all runs) | /healthz idle p50 ms | /healthz during p50 / p99 / max ms (n) | "
          "small PUTs during p50 / max ms (n) |")
    print("|---|---|---:|---|---|")
    shown = {}
    for name, _ in MODES:
        result = shown[name] = sorted(runs[name], key=lambda r: r["big_chunk_s"])[len(runs[name]) // 2]
        h, s, i = result["healthz_during_ms"], result["small_puts_during_ms"], result["healthz_idle_ms"]
        print(f"| {name} | {result['big_chunk_s']} ({', '.join(str(r['big_chunk_s']) for r in runs[name])}) | "
              f"{i['p50']} | {h.get('p50')} / {h.get('p99')} / {h.get('max')} ({h['n']}) | "
              f"{s.get('p50')} / {s.get('max')} ({s['n']}) |")
    base, new = (shown[name]["healthz_during_ms"] for name, _ in MODES)
    if base.get("max") and new.get("max"):
        print(f"/healthz max during the big chunk: {base['max'] / new['max']:.1f}x lower with worker processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
