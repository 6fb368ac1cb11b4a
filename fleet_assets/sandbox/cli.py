"""``fleet-sandbox``: serve the simulated Motive + Samsara APIs on loopback.

Point a client at the printed URL (both providers share it) with the printed
credentials, e.g. ``MotiveResource(api_key=..., base_url=URL)``.
"""

from __future__ import annotations

import argparse
import sys

from fleet_assets.sandbox.config import FAULT_KINDS, TRANSIENT_KINDS, FaultConfig, SandboxConfig

EPILOG = f"""fault kinds: {', '.join(FAULT_KINDS)}
examples:
  fleet-sandbox serve --port 8765 --vehicles 500 --latency-ms 50 --rate-limit 25
  fleet-sandbox serve --fault-rate 0.2 --faults rate_limit,http_503,truncated --duplicate-rate 0.01
  curl -H 'X-API-Key: sandbox-motive-key' 'http://127.0.0.1:8765/v1/vehicles?per_page=2'
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fleet-sandbox", description=__doc__,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the sandbox HTTP server (Ctrl-C to stop)", epilog=EPILOG,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--host", default="127.0.0.1", help="bind address (default: %(default)s)")
    serve.add_argument("--port", type=int, default=8765, help="port, 0 = any free port (default: %(default)s)")
    serve.add_argument("--vehicles", type=int, default=20, help="vehicles per provider (default: %(default)s)")
    serve.add_argument("--seed", type=int, default=7, help="fleet + fault seed (default: %(default)s)")
    serve.add_argument("--interval", type=int, default=60, help="seconds between readings (default: %(default)s)")
    serve.add_argument("--latency-ms", type=float, default=0.0, help="fixed delay per response")
    serve.add_argument("--rate-limit", type=float, default=None,
                       help="server-side requests/s per provider; excess gets 429 + Retry-After")
    serve.add_argument("--samsara-page-size", type=int, default=50, metavar="N",
                       help="record fragments per Samsara stats-history page, 1..512 (default: %(default)s)")
    serve.add_argument("--motive-max-simultaneous", type=int, default=None, metavar="N",
                       help="answer 429 to a Motive vehicle_locations call arriving while N are in flight "
                       "(Motive documents 10); counts: GET /_sandbox/stats")
    serve.add_argument("--fault-rate", type=float, default=0.0, help="chance an attempt is faulted, 0..1")
    serve.add_argument("--faults", default=",".join(TRANSIENT_KINDS), help="comma-separated fault kinds to draw from")
    serve.add_argument("--retry-after", type=float, default=0.4, help="Retry-After seconds of injected 429s")
    serve.add_argument("--duplicate-rate", type=float, default=0.0, help="share of records sent twice")
    serve.add_argument("--late-rate", type=float, default=0.0, help="share of records missing from a first fetch")
    serve.add_argument("--motive-company-units", choices=("imperial", "metric"), default="imperial",
                       help="Motive company unit setting, used when a request sends no X-Metric-Units "
                       "(default: %(default)s)")
    serve.add_argument("--malformed-records", action="store_true",
                       help="serve a few records that fail validation (clients quarantine them)")
    serve.add_argument("--motive-key", default="sandbox-motive-key", help="accepted X-API-Key")
    serve.add_argument("--samsara-token", default="sandbox-samsara-token", help="accepted bearer token")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        faults = FaultConfig(rate=args.fault_rate, kinds=tuple(k for k in args.faults.split(",") if k),
                             retry_after_s=args.retry_after, duplicate_rate=args.duplicate_rate,
                             late_rate=args.late_rate)
        config = SandboxConfig(seed=args.seed, motive_vehicles=args.vehicles, samsara_vehicles=args.vehicles,
                               interval_s=args.interval, latency_ms=args.latency_ms, rate_limit_per_s=args.rate_limit,
                               motive_max_simultaneous=args.motive_max_simultaneous,
                               samsara_page_size=args.samsara_page_size,
                               motive_api_key=args.motive_key, samsara_api_token=args.samsara_token, faults=faults,
                               motive_company_units=args.motive_company_units,
                               malformed_records=args.malformed_records)
    except ValueError as exc:
        print(f"fleet-sandbox: {exc}", file=sys.stderr)
        return 2
    import uvicorn

    from fleet_assets.sandbox.server import bind_socket, create_app

    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(f"fleet-sandbox: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    print(f"fleet-sandbox: serving {args.vehicles} Motive + {args.vehicles} Samsara vehicles at {url}", flush=True)
    print(f"  Motive:  X-API-Key: {args.motive_key}   Samsara: Authorization: Bearer {args.samsara_token}",
          flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(config), log_level="warning", access_log=False,
                                           lifespan="off", backlog=2048))
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
