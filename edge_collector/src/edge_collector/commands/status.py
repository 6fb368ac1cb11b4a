"""``edge-collector status``: buffer contents, pending uploads and the running collector's live view."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge_collector.commands._common import fail


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "status",
        help="show buffer size, trips, pending uploads, last fix and live readings",
        description="Summarise the SQLite buffer (size, trips, records, gaps, trips waiting for upload) and, with "
        "--status-file, what the running collector last reported (trip, last fix, last OBD readings).",
    )
    parser.add_argument("--db", required=True, help="SQLite buffer file")
    parser.add_argument("--status-file", type=Path, help="status file written by `run --status-file`")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--trips", type=int, default=10, help="how many recent trips to list (default 10)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from edge_collector.buffer import EventBuffer
    from edge_collector.status import read_status

    if not Path(args.db).exists():
        return fail(f"buffer {args.db} does not exist (has the collector run yet?)")
    with EventBuffer(args.db) as buffer:
        stats = buffer.stats()
        trips = buffer.trips()[-args.trips:] if args.trips > 0 else []
    live = read_status(args.status_file) if args.status_file else None
    if args.json:
        print(json.dumps({"buffer": stats, "trips": trips, "live": live}, indent=2, default=str))
        return 0
    print(f"buffer {stats['path']}: {stats['used_bytes'] / 1e6:.2f} MB used"
          + (f" of {stats['max_bytes'] / 1e6:.0f} MB" if stats["max_bytes"] else ""))
    print(f"trips {stats['trips']} (open {stats['open_trips']}, pending upload {stats['pending_upload']}); "
          f"events {stats['events']}, DTCs {stats['dtcs']}, gaps {stats['gaps']}")
    for trip in trips:
        state = "open" if trip["ended_at"] is None else ("uploaded" if trip["uploaded_at"] else "pending upload")
        err = f" last error: {trip['last_error']}" if trip["last_error"] else ""
        print(f"  {trip['trip_id']} {trip['vin']} {trip['started_at']} → {trip['ended_at'] or '…'} "
              f"{trip['records']} records, {state}{err}")
    if args.status_file:
        if live is None:
            print(f"no live status at {args.status_file} (collector not running with --status-file?)")
        else:
            print(_live_lines(live))
    return 0


def _live_lines(live: dict) -> str:
    if "error" in live:
        return live["error"]
    lines = [f"collector {'running' if live['running'] else 'NOT running'} (pid {live.get('pid')}), "
             f"state {live.get('state')}, updated {live.get('updated_at') or 'never'}"]
    fix = (live.get("gps") or {}).get("fix")
    lines.append(f"  last fix: {fix['lat']:.6f}, {fix['lon']:.6f}" if fix else "  last fix: none")
    sample = live.get("last_sample")
    if sample:
        shown = {k: v for k, v in sample.items() if v is not None and k not in ("lat", "lon")}
        lines.append("  last readings: " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    obd = live.get("obd")
    if obd:
        lines.append(f"  OBD {obd['port']}: {obd['status']}, VIN {obd.get('vin')}")
    offset = live.get("clock_offset_s")
    if offset is not None:
        wrong = "  (WRONG CLOCK: check NTP)" if abs(offset) > 120 else ""
        lines.append(f"  system clock vs GPS: {offset:+.1f} s{wrong}")
    return "\n".join(lines)
