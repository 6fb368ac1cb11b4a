"""Cost of one analytics-ledger commit: one critical section per commit (what uploads do since issue 12)
against one attachment held for the whole run (what they did before, which made uploads of different days
wait for each other).

    python benchmarks/ledger_commit.py [--commits 60] [--fingerprints 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from fleet_assets.analytics.batching import Batch, Item
from fleet_assets.analytics.ledger import UploadLedger


def _batches(n: int, size: int, salt: int) -> list[Batch]:
    return [Batch("2025-06-01", "gps", [Item((1,), {}, {}, salt * 10**9 + b * size + i) for i in range(size)])
            for b in range(n)]


def per_commit_ms(held_for_run: bool, commits: int, size: int, salt: int) -> float:
    ledger = UploadLedger(Path(tempfile.mkdtemp()) / "ledger.duckdb", "bench")
    ledger.position("2025-06-01")  # schema created outside the timing
    batches = _batches(commits, size, salt)
    started = time.perf_counter()
    if held_for_run:
        with ledger.session():
            for batch in batches:
                ledger.record_batch(batch, batch.items, [])
    else:
        for batch in batches:
            ledger.record_batch(batch, batch.items, [])
    return (time.perf_counter() - started) / commits * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=60)
    parser.add_argument("--fingerprints", type=int, default=1000, help="acked records per commit")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"load average before: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    results: dict[str, list[float]] = {"held for the run": [], "one section per commit": []}
    for rep in range(args.repeat):  # alternated, so load drifts hit both alike
        results["held for the run"].append(per_commit_ms(True, args.commits, args.fingerprints, 2 * rep))
        results["one section per commit"].append(per_commit_ms(False, args.commits, args.fingerprints, 2 * rep + 1))
    for name, values in results.items():
        print(f"{name}: median {statistics.median(values):.1f} ms per commit of {args.fingerprints} fingerprints "
              f"({', '.join(f'{v:.1f}' for v in values)})")
    print(f"load average after: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
