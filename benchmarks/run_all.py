"""Run every benchmark in this folder, one after the other, with live output.

    .venv/bin/python benchmarks/run_all.py            # full sizes (tens of minutes on 2 cores)
    .venv/bin/python benchmarks/run_all.py --quick    # smoke sizes (a few minutes)
    .venv/bin/python benchmarks/run_all.py --only pipeline_write --only edge_buffer

Each benchmark compares our implementation with the naive baseline its issue
names in the same run and prints ratios; the numbers recorded in
benchmarks/RESULTS.md come from these scripts (each section gives its command).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("provider_fetch", "pipeline_write", "edge_buffer", "ingest_load", "ingest_big_chunk", "ingest_replicas",
              "sensor_tick", "analytics_upload", "edge_day", "run_overhead", "storage_s3", "backfill_workers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument("--only", action="append", choices=BENCHMARKS, help="run only these (repeatable)")
    args = parser.parse_args(argv)
    selected = args.only or list(BENCHMARKS)
    failures = []
    for index, name in enumerate(selected, start=1):
        command = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if args.quick else [])
        print(f"\n=== [{index}/{len(selected)}] {name}: {' '.join(command)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call(command, cwd=HERE.parent)
        print(f"=== {name} finished in {time.perf_counter() - started:.1f}s with exit code {code}", flush=True)
        if code:
            failures.append(name)
    if failures:
        print(f"\nFAILED: {', '.join(failures)}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
