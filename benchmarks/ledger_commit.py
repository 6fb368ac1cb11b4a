"""Cost of one analytics-ledger commit: one critical section per commit (what uploads do since issue 12)
against one attachment held for the whole run (what they did before, which made uploads of different days
wait for each other); with ``--postgres``, also the PostgreSQL ledger (issue 10: ``FLEET_STATE_URL``) on a
local server started for the run (the ``pgserver`` wheel, a unix socket: no network in the figure).

    python benchmarks/ledger_commit.py [--commits 60] [--fingerprints 1000] [--repeat 5] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from fleet_assets.analytics.batching import Batch, Item
from fleet_assets.analytics.ledger import Ledger, UploadLedger
from fleet_assets.analytics.ledger_postgres import PostgresLedger


def _batches(n: int, size: int, salt: int) -> list[Batch]:
    return [Batch("2025-06-01", "gps", [Item((1,), {}, {}, salt * 10**9 + b * size + i) for i in range(size)])
            for b in range(n)]


def per_commit_ms(held_for_run: bool, commits: int, size: int, salt: int, ledger: Ledger | None = None) -> float:
    ledger = ledger or UploadLedger(Path(tempfile.mkdtemp()) / "ledger.duckdb", "bench")
    ledger.position("2025-06-01")  # schema created (and the connection opened) outside the timing
    batches = _batches(commits, size, salt)
    started = time.perf_counter()
    if held_for_run:
        with ledger.session():
            for batch in batches:
                ledger.record_batch(batch, batch.items, [])
    else:
        for batch in batches:
            ledger.record_batch(batch, batch.items, [])
    elapsed = time.perf_counter() - started
    ledger.close()
    return elapsed / commits * 1000


def postgres_ledgers(stack: ExitStack):
    """A fresh database per call on one local PostgreSQL 16 started for this run."""
    import pgserver
    import psycopg

    server = pgserver.get_server(tempfile.mkdtemp(), cleanup_mode="stop")
    stack.callback(server.cleanup)
    admin = server.get_uri()

    def fresh() -> PostgresLedger:
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return PostgresLedger(admin.replace("/postgres?", f"/{name}?", 1), "bench")

    return fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=60)
    parser.add_argument("--fingerprints", type=int, default=1000, help="acked records per commit")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="also the PostgreSQL ledger (local pgserver)")
    args = parser.parse_args()
    with ExitStack() as stack:
        fresh_postgres = postgres_ledgers(stack) if args.postgres else None
        print(f"load average before: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
        results: dict[str, list[float]] = {"held for the run": [], "one section per commit": []}
        for rep in range(args.repeat):  # alternated, so load drifts hit all alike
            results["held for the run"].append(per_commit_ms(True, args.commits, args.fingerprints, 3 * rep))
            results["one section per commit"].append(per_commit_ms(False, args.commits, args.fingerprints, 3 * rep + 1))
            if fresh_postgres:
                results.setdefault("postgres, one transaction per commit", []).append(
                    per_commit_ms(False, args.commits, args.fingerprints, 3 * rep + 2, fresh_postgres()))
    for name, values in results.items():
        print(f"{name}: median {statistics.median(values):.1f} ms per commit of {args.fingerprints} fingerprints "
              f"({', '.join(f'{v:.1f}' for v in values)})")
    print(f"load average after: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
