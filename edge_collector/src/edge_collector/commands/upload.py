"""``edge-collector upload``: send ended trips to the ingest server, or export them to a directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


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
        if not args.key_file:
            print("--server needs --key-file", file=sys.stderr)
            return 2
        key = args.key_file.read_text().strip()
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
