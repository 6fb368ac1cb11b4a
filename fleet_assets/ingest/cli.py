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
        "uploads land in <data-dir>/landing (or landing/ of FLEET_STORAGE_URL) where the Dagster sensor picks up "
        "completed trips. With FLEET_STATE_URL (PostgreSQL) the completion log, trip locks and device keys are "
        "shared, so several replicas on different hosts act as one service.",
    )
    parser.add_argument("--data-dir", help="platform data dir (env FLEET_DATA_DIR, default ./data); with "
                        "FLEET_STORAGE_URL=s3://... only local scratch (lock files)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--keys-file", help="JSON keys file (sha256 of each device key + allowed VINs); required to "
                        "serve unless FLEET_STATE_URL is set (then keys live in PostgreSQL)")
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


def open_zone(data_dir: str, *, fsync: bool = True, check: bool = True):
    """The landing zone the settings name: ``FLEET_STORAGE_URL`` (else ``data_dir``) and ``FLEET_STATE_URL``.

    With ``check`` (start-up), an S3 store must enforce conditional writes and Postgres must answer;
    failures raise ``StorageError``/``StateError`` whose one-line message names the setting.
    """
    from fleet_assets import settings
    from fleet_assets.ingest.landing import LandingZone
    from fleet_assets.ingest.state import PostgresState
    from fleet_assets.storage.layout import DataLayout
    from fleet_assets.storage.objects import check_conditional_writes

    storage_url = settings.storage_url()
    layout = DataLayout(data_dir, storage_url=storage_url, state_url=settings.state_url())
    state = PostgresState(layout.state_url) if layout.state_url else None
    if check:
        if not layout.is_local:
            check_conditional_writes(layout.store)
        if state is not None:
            state.check()
    return LandingZone.for_layout(layout, fsync=fsync, state=state)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for chatty in ("botocore", "boto3", "urllib3", "s3transfer"):  # "Found credentials in ...", retries: debug only
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
    from fleet_assets.settings import STATE_URL_ENV, data_dir, state_url
    from fleet_assets.state.postgres import StateError
    from fleet_assets.storage.objects import StorageError

    if args.data_dir is None:
        args.data_dir = data_dir()
    args.data_dir = str(Path(args.data_dir).expanduser().resolve())
    shared_keys = state_url() is not None
    if args.keys_file and shared_keys and args.command in (None, "add-key"):
        print(f"--keys-file is not used when {STATE_URL_ENV} is set: device keys live in PostgreSQL "
              "(add them with add-key, without --keys-file)", file=sys.stderr)
        return 2
    if args.command == "add-key" and not (args.keys_file or shared_keys):
        print(f"add-key needs --keys-file (or {STATE_URL_ENV} to store keys in PostgreSQL)", file=sys.stderr)
        return 2
    if args.command is None and not (args.keys_file or shared_keys):
        print("serving needs --keys-file (create one with: fleet-ingest-server --keys-file F add-key ...) "
              f"or {STATE_URL_ENV} (keys in PostgreSQL)", file=sys.stderr)
        return 2
    try:
        zone = open_zone(args.data_dir, fsync=not args.no_fsync, check=args.command != "add-key")
        if args.command == "add-key":
            from fleet_assets.ingest.keys import add_device
            from fleet_assets.ingest.state import PostgresState

            state = PostgresState(state_url()) if shared_keys else None
            print(add_device(args.keys_file, args.device, args.vin, state=state))
            return 0
    except (StorageError, StateError) as exc:
        print(f"fleet-ingest-server: {exc}", file=sys.stderr)
        return 2
    if args.command == "import-dir":
        from fleet_assets.ingest.importer import import_dir

        try:
            report = import_dir(args.source, zone, progress=print)
        finally:
            zone.close()
        print(f"imported {len(report.imported)}, already complete {len(report.already_complete)}, failed {len(report.failed)}")
        return 1 if report.failed else 0
    zone.close()
    import uvicorn

    # Worker processes build the app themselves (app_from_env): pass the parsed flags through the environment.
    # FLEET_STORAGE_URL / FLEET_STATE_URL are already there (inherited) and read again through settings.
    os.environ.update({
        "FLEET_INGEST_DATA_DIR": args.data_dir,
        "FLEET_INGEST_KEYS_FILE": str(Path(args.keys_file).resolve()) if args.keys_file else "",
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

    fsync = os.environ.get("FLEET_INGEST_FSYNC", "1") == "1"
    zone = open_zone(os.environ["FLEET_INGEST_DATA_DIR"], fsync=fsync, check=False)  # main checked already
    keys_file = os.environ.get("FLEET_INGEST_KEYS_FILE")
    return create_app(
        zone,
        KeyRing.load(keys_file) if keys_file else KeyRing.from_state(zone.state),
        max_chunk_bytes=int(os.environ["FLEET_INGEST_MAX_CHUNK_BYTES"]),
        max_headers=int(os.environ.get("FLEET_INGEST_MAX_HEADERS", DEFAULT_MAX_HEADERS)),
        validate_workers=int(os.environ.get("FLEET_INGEST_VALIDATE_WORKERS", "0")),
    )


if __name__ == "__main__":
    sys.exit(main())
