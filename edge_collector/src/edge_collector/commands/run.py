"""``edge-collector run``: live collection from an ELM327 adapter and/or an NMEA GPS.

Extension points for other commands (the uploader):
* ``RUN_ARGUMENTS``: callables ``(parser) -> None`` adding flags to ``run``;
* ``RUN_HOOKS``: callables ``(args, collector) -> None`` called before the loop
  starts; they register ``collector.add_trip_ended_hook(fn(trip_id))`` and/or
  ``collector.add_periodic_hook(interval_s, fn())``. Hooks run on a worker
  thread, never in the sampling loop.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Callable

from edge_collector.commands._common import add_pipeline_arguments, collector_config, fail, load_settings, max_bytes

RUN_ARGUMENTS: list[Callable[[argparse.ArgumentParser], None]] = []
RUN_HOOKS: list[Callable] = []

log = logging.getLogger(__name__)


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "run",
        help="collect live from serial ports (OBD adapter, GPS receiver)",
        description="Collect live: sample the OBD-II adapter, read the GPS, detect trips and store every record "
        "durably in the SQLite buffer. Stops cleanly on SIGINT/SIGTERM; an open trip is resumed on the next start.",
        epilog="example: edge-collector run --obd /dev/ttyUSB0 --gps /dev/ttyACM0 --db /var/lib/edge-collector/buffer.db",
    )
    parser.add_argument("--obd", help="ELM327 port, e.g. /dev/ttyUSB0, /dev/rfcomm0 or socket://host:35000")
    parser.add_argument("--obd-baud", dest="obd_baud", type=int, help="adapter baud rate (skips auto-detection)")
    parser.add_argument("--gps", help="NMEA GPS port, e.g. /dev/ttyACM0")
    parser.add_argument("--gps-baud", dest="gps_baud", type=int, help="GPS baud rate (default 9600)")
    add_pipeline_arguments(parser)
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: run until signalled)")
    parser.add_argument("--progress-every", type=float, default=10.0, help="seconds between progress lines")
    for extend in RUN_ARGUMENTS:
        extend(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from edge_collector.buffer import EventBuffer
    from edge_collector.collector import Collector
    from edge_collector.gps import GpsState
    from edge_collector.serial_ports import GpsSerialReader, PortError, PortLock

    s = load_settings(args)
    if not s["obd"] and not s["gps"]:
        return fail("give at least one of --obd and --gps")
    if not s["obd"] and not s["vin"]:
        return fail("without --obd there is no VIN source: give --vin")
    # Ports first: a missing or busy device must fail before anything is written.
    lock = gps_reader = None
    gps_state = GpsState() if s["gps"] else None
    try:
        if s["obd"] and "://" not in s["obd"]:
            lock = PortLock(s["obd"])
        if s["gps"]:
            gps_reader = GpsSerialReader(s["gps"], gps_state, baudrate=int(s["gps_baud"]))
            gps_reader.open()
    except PortError as exc:
        if lock:
            lock.release()
        return fail(str(exc))
    obd = None
    if s["obd"]:
        from edge_collector.obd_reader import ObdSource

        try:
            obd = ObdSource(s["obd"], baudrate=s["obd_baud"], pids=s["pids"])
        except ValueError as exc:
            return fail(str(exc))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with EventBuffer(s["db"], max_bytes=max_bytes(s)) as buffer:
        collector = Collector(buffer, collector_config(s), obd=obd, gps=gps_state)
        if gps_reader:
            gps_reader.on_gap = lambda a, b, why: collector.note_gap("gps", a, b, why)
            gps_reader.start()
        if obd:
            print(f"connecting to OBD adapter on {s['obd']} in the background (takes a few seconds) ...", flush=True)
            obd.try_reconnect()
            collector.add_trip_ended_hook(lambda trip_id: print(f"trip {trip_id} ended", flush=True))
        for install in RUN_HOOKS:
            install(args, collector)
        collector.add_periodic_hook(args.progress_every, lambda: print(_progress(collector), flush=True))
        if args.duration:
            threading.Timer(args.duration, stop.set).start()
        print(f"collecting into {s['db']} (Ctrl-C to stop)", flush=True)
        try:
            collector.run(stop)
        finally:
            if gps_reader:
                gps_reader.stop()
            if obd:
                obd.close()
            if lock:
                lock.release()
        print(f"stopped: {collector.acked} records stored, {collector.dropped} dropped", flush=True)
    return 0


def _progress(collector) -> str:
    fix = collector.gps.latest(time.time(), 10.0) if collector.gps else None
    gps = f"fix {fix.lat:.5f},{fix.lon:.5f}" if fix else "no fix"
    obd = "n/a" if collector.obd is None else ("connected" if collector.obd.connected else "reconnecting")
    trip = collector.trip_id or "none"
    return f"trip {trip} | stored {collector.acked} | OBD {obd} | GPS {gps}"
