"""``fleet-ingest-server``: serve the upload API, import exported trips, add device keys."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from fleet_assets.ingest.http_limits import DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADERS

# This module is imported again by every spawned process (uvicorn --workers, chunk validators): keep it light,
# import anything heavy (uvicorn, the app) inside functions.


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleet-ingest-server",
        description="Trip-chunk ingest server (offline-upload API, seed 004). Without a subcommand it serves HTTP; "
        "uploads land in <data-dir>/landing where the Dagster sensor picks up completed trips.",
    )
    parser.add_argument("--data-dir", help="platform data dir (env FLEET_DATA_DIR, default ./data)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--keys-file", help="JSON keys file (sha256 of each device key + allowed VINs); required to serve")
    parser.add_argument("--max-chunk-bytes", type=int, default=8 * 1024 * 1024, help="max chunk body (default 8 MiB)")
    parser.add_argument("--no-fsync", action="store_true", help="skip fsync per write (faster, not crash-safe)")
    parser.add_argument("--max-header-bytes", type=int, default=DEFAULT_MAX_HEADER_BYTES,
                        help=f"max size of a request head, else 431 (default {DEFAULT_MAX_HEADER_BYTES})")
    parser.add_argument("--max-headers", type=int, default=DEFAULT_MAX_HEADERS,
                        help=f"max header fields per request, else 431 (default {DEFAULT_MAX_HEADERS})")
    parser.add_argument("--validate-workers", type=int, default=os.cpu_count() or 1,
                        help="processes per server process that validate chunks off the event loop "
                        "(default: one per core; 0 = in the request thread)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (validation is CPU-bound; default 1)")
    parser.add_argument("--log-level", default="info")
    sub = parser.add_subparsers(dest="command")
    imp = sub.add_parser("import-dir", help="ingest trips exported to a directory (edge-collector upload --to-dir)")
    imp.add_argument("source", help="directory holding trips/<trip_id>/manifest.json and chunks/")
    key = sub.add_parser("add-key", help="create a device key; prints the key once, stores only its sha256")
    key.add_argument("--device", required=True, help="device name")
    key.add_argument("--vin", action="append", required=True, help="VIN the device may write (repeatable)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.data_dir is None:
        from fleet_assets.settings import data_dir

        args.data_dir = data_dir()
    landing = Path(args.data_dir).expanduser().resolve() / "landing"
    if args.command == "import-dir":
        from fleet_assets.ingest.importer import import_dir
        from fleet_assets.ingest.landing import LandingZone

        report = import_dir(args.source, LandingZone(landing, fsync=not args.no_fsync), progress=print)
        print(f"imported {len(report.imported)}, already complete {len(report.already_complete)}, failed {len(report.failed)}")
        return 1 if report.failed else 0
    if args.command == "add-key":
        from fleet_assets.ingest.keys import add_device

        if not args.keys_file:
            print("add-key needs --keys-file", file=sys.stderr)
            return 2
        print(add_device(args.keys_file, args.device, args.vin))
        return 0
    if not args.keys_file:
        print("serving needs --keys-file (create one with: fleet-ingest-server --keys-file F add-key ...)", file=sys.stderr)
        return 2
    import uvicorn

    # Worker processes build the app themselves (app_from_env): pass the settings through the environment.
    os.environ.update({
        "FLEET_INGEST_LANDING": str(landing),
        "FLEET_INGEST_KEYS_FILE": str(Path(args.keys_file).resolve()),
        "FLEET_INGEST_MAX_CHUNK_BYTES": str(args.max_chunk_bytes),
        "FLEET_INGEST_FSYNC": "0" if args.no_fsync else "1",
        "FLEET_INGEST_MAX_HEADERS": str(args.max_headers),
        "FLEET_INGEST_VALIDATE_WORKERS": str(max(0, args.validate_workers)),
    })
    uvicorn.run("fleet_assets.ingest.cli:app_from_env", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level.lower(),
                # h11, not httptools: it bounds the request head (see http_limits)
                http="fleet_assets.ingest.http_limits:LimitedH11Protocol",
                h11_max_incomplete_event_size=args.max_header_bytes)
    return 0


def app_from_env():
    """ASGI app factory for uvicorn (also in worker processes); settings come from ``main``."""
    from fleet_assets.ingest.app import create_app
    from fleet_assets.ingest.keys import KeyRing

    return create_app(
        os.environ["FLEET_INGEST_LANDING"],
        KeyRing.load(os.environ["FLEET_INGEST_KEYS_FILE"]),
        max_chunk_bytes=int(os.environ["FLEET_INGEST_MAX_CHUNK_BYTES"]),
        fsync=os.environ.get("FLEET_INGEST_FSYNC", "1") == "1",
        max_headers=int(os.environ.get("FLEET_INGEST_MAX_HEADERS", DEFAULT_MAX_HEADERS)),
        validate_workers=int(os.environ.get("FLEET_INGEST_VALIDATE_WORKERS", "0")),
    )


if __name__ == "__main__":
    sys.exit(main())
