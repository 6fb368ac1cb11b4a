"""``edge-collector replay``: push a recorded NMEA log (and optionally an OBD session) through the pipeline."""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

from edge_collector.commands._common import add_pipeline_arguments, collector_config, fail, load_settings, max_bytes


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "replay",
        help="replay a recorded NMEA log (plus optional OBD) through the real pipeline",
        description="Replay recorded NMEA logs through the same GPS parser, fusion, trip detection and buffer as "
        "`run`, on a clock that follows the receiver's time. With --obd, every step also samples an ELM327 "
        "(a port, or 'emulator' for the in-process ELM327-emulator, a test-only extra). "
        "Lines starting with '#' (gpsd log comments) are skipped.",
        epilog="example: edge-collector replay --db demo.db --nmea nl2008u.log --vin WAUZZZFY0R1234567 --speedup 10",
    )
    parser.add_argument("--nmea", type=Path, action="append", default=[], help="NMEA log file (repeatable)")
    parser.add_argument("--synthetic", type=int, metavar="SECONDS", help="replay a synthetic drive of this length")
    parser.add_argument("--obd", help="ELM327 port to sample at every step, or 'emulator'")
    parser.add_argument("--obd-baud", dest="obd_baud", type=int)
    parser.add_argument("--speedup", type=float, default=0.0, help="time factor (10 = ten times real time; 0 = max)")
    parser.add_argument("--keep-open", action="store_true", help="leave the last trip open instead of ending it")
    add_pipeline_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from edge_collector.buffer import EventBuffer
    from edge_collector.collector import Collector
    from edge_collector.gps import GpsState
    from edge_collector.replay import iter_log_lines, replay
    from edge_collector.synthetic import synthetic_drive

    s = load_settings(args)
    if not args.nmea and args.synthetic is None:
        return fail("give --nmea LOG and/or --synthetic SECONDS")
    if args.synthetic is not None and args.synthetic < 1:
        return fail(f"--synthetic must be at least 1 second, got {args.synthetic}")
    if args.speedup < 0:
        return fail(f"--speedup must be 0 (as fast as possible) or positive, got {args.speedup}")
    if not s["obd"] and not s["vin"]:
        return fail("without --obd there is no VIN source: give --vin")
    for path in args.nmea:  # checked up front; the logs are then streamed, never held in memory
        try:
            with open(path, "rb"):
                pass
        except OSError as exc:
            return fail(f"cannot read NMEA log {path}: {exc.strerror or exc}")
    obd, emu = None, None
    if s["obd"]:
        from edge_collector.obd_reader import ObdSource

        port = s["obd"]
        if port == "emulator":
            from edge_collector.emulator import EmulatorUnavailable, start_emulator

            try:
                emu = start_emulator()
            except EmulatorUnavailable as exc:
                return fail(str(exc))
            port = emu.get_pty()
        try:
            obd = ObdSource(port, baudrate=s["obd_baud"], pids=s["pids"])
        except ValueError as exc:  # unknown PID name
            if emu:
                emu.terminate()
            return fail(str(exc))
        print(f"connecting to OBD on {port} ...", flush=True)
        if not obd.connect():
            if emu:
                emu.terminate()
            return fail(f"OBD adapter on {port} did not connect ({obd.last_status})")
    sources = [iter_log_lines(path) for path in args.nmea]
    if args.synthetic:
        sources.append(synthetic_drive(args.synthetic))
    source = itertools.chain.from_iterable(sources)
    try:
        with EventBuffer(s["db"], max_bytes=max_bytes(s)) as buffer:
            collector = Collector(buffer, collector_config(s), obd=obd, gps=GpsState())
            result = replay(collector, source, speedup=args.speedup,
                            progress=lambda r: print(f"  {r.lines} lines, {collector.acked} records stored",
                                                     flush=True))
            if not args.keep_open:
                collector.end_current_trip("end of replay")
            collector.shutdown(collector.detector.last_ts)  # None when nothing was observed: status says "never"
            counters = collector.gps.counters
    finally:
        if obd:
            obd.close()
        if emu:
            emu.terminate()
    print(f"replayed {result.lines} lines ({result.steps} epochs) in {result.wall_s:.1f} s: "
          f"{collector.acked} records stored, {collector.dropped} dropped; "
          f"NMEA checksum errors {counters.checksum_errors}, parse errors {counters.parse_errors}, "
          f"garbage {counters.garbage}", flush=True)
    return 0

