"""``python -m fleet_assets.analytics.sandbox.cli``: serve the embedded analytics backend on loopback.

A bad argument (a rate outside [0, 1], a non-loopback host) is one line and
exit 2, before any store file is created.
"""

from __future__ import annotations

import time

from fleet_assets.analytics.cli_parser import OneLineParser
from fleet_assets.analytics.sandbox.app import serve_in_thread
from fleet_assets.analytics.sandbox.backend import AnalyticsSandbox
from fleet_assets.analytics.sandbox.fault_plan import FaultPlan


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(
        prog="python -m fleet_assets.analytics.sandbox.cli",
        description="Serve the IcsAnalytics-compatible sandbox GraphQL backend on loopback "
                    "(POST /graphql, GET /stats, POST /reset), with optional deterministic fault injection.")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (loopback only; default %(default)s)")
    parser.add_argument("--port", type=int, default=8765, help="port, 0 = any free port (default %(default)s)")
    parser.add_argument("--fault-rate", type=float, default=0.0,
                        help="fraction of requests failing (HTTP 500, GraphQL error, timeout, commit-then-500)")
    parser.add_argument("--poison-rate", type=float, default=0.0, help="fraction of records always rejected")
    parser.add_argument("--seed", type=int, default=0, help="fault plan seed (default %(default)s)")
    parser.add_argument("--hang-seconds", type=float, default=1.0, help="how long an injected timeout hangs")
    parser.add_argument("--max-aliases", type=int, default=None,
                        help="refuse documents with more aliased fields, like a gateway's alias limit")
    parser.add_argument("--token", default=None, help="require 'Authorization: Bearer <token>' (default: none)")
    parser.add_argument("--store", default=None, metavar="PATH",
                        help="keep the data in this SQLite file, shared with the embedded backend of runs that use "
                             "the same file (make dev: $FLEET_DATA_DIR/analytics_sandbox.sqlite); default: memory")
    args = parser.parse_args(argv)
    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        parser.error("--host: the sandbox only binds to loopback addresses")
    try:
        faults = FaultPlan.uniform(args.fault_rate, seed=args.seed, poison_rate=args.poison_rate,
                                   hang_seconds=args.hang_seconds)
    except ValueError as exc:
        parser.error(f"{'--poison-rate' if 'poison_rate' in str(exc) else '--fault-rate'}: {exc}")
    backend = AnalyticsSandbox(faults, required_token=args.token, max_aliases=args.max_aliases, store_path=args.store)
    with serve_in_thread(backend, args.host, args.port) as url:
        print(f"analytics sandbox listening on {url} (stats: {url.rsplit('/', 1)[0]}/stats, store: "
              f"{args.store or 'memory'})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
