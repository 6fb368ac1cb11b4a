"""``edge-collector upload``: send ended trips to the ingest server, or export them to a directory.

Importing this module also extends ``run`` (through its RUN_ARGUMENTS and
RUN_HOOKS extension points) with ``--upload-server``/``--upload-key-file``:
when given, each ended trip is uploaded right away and pending ones are
retried every ``--upload-interval`` seconds, on the collector's hook worker.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from edge_collector.commands import run as run_command
from edge_collector.commands._common import CommandError

log = logging.getLogger(__name__)


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "upload",
        help="upload ended trips (resumable) or export them for offline transfer",
        description="Upload every ended trip in the SQLite buffer that the server has not confirmed yet. "
        "Resumes where it stopped (asks the server which chunks it holds), retries with backoff, and marks a trip "
        "uploaded only after the server confirmed it complete. With --to-dir, writes the trips to a directory "
        "instead (USB transfer; import with `fleet-ingest-server import-dir DIR`); exported trips stay pending "
        "locally until an online upload confirms them.",
    )
    parser.add_argument("--db", required=True, help="SQLite buffer file of the collector")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--server", help="ingest server base URL, e.g. https://ingest.example.com")
    target.add_argument("--to-dir", type=Path, help="export to this directory instead of uploading")
    parser.add_argument("--key-file", type=Path, help="file holding this device's API key (required with --server)")
    parser.add_argument("--work-dir", type=Path, help="where chunks are cut (default: <db>.upload next to the buffer)")
    parser.add_argument("--attempts", type=int, default=8, help="attempts per request before giving up (default 8)")
    parser.add_argument("--max-wait", type=float, default=30.0, help="max backoff between attempts, seconds")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from edge_collector.buffer import EventBuffer
    from edge_collector.upload import IngestClient, RetryPolicy, export_trip, upload_ready_trips

    work_dir = args.work_dir or Path(f"{args.db}.upload")
    with EventBuffer(args.db) as buffer:
        if args.to_dir:
            return _export_all(buffer, args.to_dir, work_dir, export_trip)
        key = _read_key(args.key_file, "--server needs --key-file")
        retry = RetryPolicy(attempts=args.attempts, max_wait_s=args.max_wait)
        with IngestClient(args.server, key) as client:
            results = upload_ready_trips(buffer, client, work_dir, retry=retry, progress=print)
    done = sum(r.complete for r in results)
    print(f"{done}/{len(results)} trips confirmed complete by the server")
    return 0 if done == len(results) else 1


def _export_all(buffer, dest: Path, work_dir: Path, export_trip) -> int:
    from edge_collector.chunking import cut_trip

    trips = buffer.trips_ready_for_upload()
    for index, trip_id in enumerate(trips, start=1):
        out = work_dir / trip_id
        manifest = cut_trip(buffer, trip_id, out)
        folder = export_trip(manifest, out, dest)
        print(f"[{index}/{len(trips)}] exported trip {trip_id} ({len(manifest.chunks)} chunks) to {folder}")
    print(f"exported {len(trips)} trips; they stay pending here until an online upload is confirmed")
    return 0


def _read_key(path: Path | None, missing: str) -> str:
    if path is None:
        raise CommandError(missing)
    try:
        key = Path(path).read_text().strip()
    except OSError as exc:
        raise CommandError(f"cannot read API key file {path}: {exc.strerror or exc}") from None
    if not key:
        raise CommandError(f"API key file {path} is empty")
    return key


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("upload while running (optional)")
    group.add_argument("--upload-server", help="ingest server URL: upload each trip as it ends, retry pending ones")
    group.add_argument("--upload-key-file", type=Path, help="file holding this device's API key")
    group.add_argument("--upload-interval", type=float, default=300.0,
                       help="seconds between retries of pending uploads (default 300)")


def _install_upload_hooks(args: argparse.Namespace, collector) -> None:
    """Upload on trip end and periodically; both run on the collector's hook worker, never in the sampling loop."""
    if not getattr(args, "upload_server", None):
        return
    from edge_collector.upload import IngestClient, RetryPolicy, upload_ready_trips

    key = _read_key(args.upload_key_file, "--upload-server needs --upload-key-file")
    work_dir = Path(f"{collector.buffer.path}.upload")
    # Few quick attempts: an offline car just tries again at the next interval.
    retry = RetryPolicy(attempts=3, initial_wait_s=1.0, max_wait_s=10.0, max_total_s=60.0)

    def upload_pending(*_trip_id) -> None:
        with IngestClient(args.upload_server, key, timeout=30) as client:
            for result in upload_ready_trips(collector.buffer, client, work_dir, retry=retry, progress=log.info):
                if result.error:
                    log.warning("upload of trip %s postponed: %s", result.trip_id, result.error)

    collector.add_trip_ended_hook(upload_pending)
    collector.add_periodic_hook(args.upload_interval, upload_pending)


if _run_arguments not in run_command.RUN_ARGUMENTS:
    run_command.RUN_ARGUMENTS.append(_run_arguments)
    run_command.RUN_HOOKS.append(_install_upload_hooks)
