"""``edge-collector export``: write chunks + manifests of ended trips to a directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from edge_collector.commands._common import fail


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "export",
        help="write chunks and manifests of ended trips to a directory",
        description="Cut every ended trip that the server has not confirmed yet into {trip_id}-{n}.ndjson.gz "
        "chunks plus {trip_id}.manifest.json (seed-004 format) in OUT. Deterministic: exporting twice gives "
        "byte-identical files. Verify with `gzip -t` and `sha256sum`.",
    )
    parser.add_argument("--db", required=True, help="SQLite buffer file")
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--trip", action="append", help="only this trip id (repeatable)")
    parser.add_argument("--chunk-records", type=int, default=900, help="records per chunk (default 900)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from edge_collector.buffer import EventBuffer, EventBufferError
    from edge_collector.chunking import cut_trip

    if args.chunk_records < 1:
        return fail("--chunk-records must be at least 1")
    if not Path(args.db).exists():
        return fail(f"buffer {args.db} does not exist")
    with EventBuffer(args.db) as buffer:
        trips = args.trip or buffer.trips_ready_for_upload()
        for trip_id in trips:  # check all first: a refused export writes nothing
            try:
                if buffer.trip(trip_id)["ended_at"] is None:
                    return fail(f"trip {trip_id} is still open (being recorded); only ended trips can be exported")
            except EventBufferError as exc:
                return fail(str(exc), 1)
        if trips:
            try:
                Path(args.out).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                return fail(f"cannot use output directory {args.out}: {exc.strerror or exc}")
        for index, trip_id in enumerate(trips, start=1):
            try:
                manifest = cut_trip(buffer, trip_id, args.out, max_records_per_chunk=args.chunk_records)
            except EventBufferError as exc:
                return fail(str(exc), 1)
            except OSError as exc:  # files are written temp+rename: nothing half-written is left behind
                return fail(f"cannot write trip {trip_id} to {args.out}: {exc.strerror or exc}", 1)
            print(f"[{index}/{len(trips)}] {trip_id}: {manifest.event_count} records in {len(manifest.chunks)} chunks",
                  flush=True)
    print(f"exported {len(trips)} trips to {args.out}")
    return 0
