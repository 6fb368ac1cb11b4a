"""Sensor tick cost with many trips already in the landing zone.

Fills ``landing/completed/`` with N completion markers (default 100k, written
directly as small files: fast), then measures, for a tick that finds
``--new`` fresh trips after a cursor at N - new:

* ``cursor``  what completed_trips_sensor does: read markers cursor+1 ... until the first gap (O(new))
* ``naive``   baseline: list the whole completed/ directory, sort, keep names after the cursor, parse them (O(all))
* ``sensor``  the real sensor evaluated through ``dg.build_sensor_context`` (cursor read + planning + RunRequests)

    .venv/bin/python benchmarks/sensor_tick.py --quick
    .venv/bin/python benchmarks/sensor_tick.py --trips 100000 --new 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

from fleet_assets.ingest.landing import MARKER_DIGITS, LandingZone


def fill(zone: LandingZone, n: int) -> None:
    folder = zone.completed_dir
    folder.mkdir(parents=True, exist_ok=True)
    for seq in range(1, n + 1):
        day = f"2025-{1 + seq % 12:02d}-{1 + seq % 28:02d}"
        payload = {"trip_id": f"00000000-0000-4000-8000-{seq:012d}", "vin": "1FTFW1E50PFA00001", "days": [day],
                   "event_count": 100}
        with open(folder / f"{seq:0{MARKER_DIGITS}d}.json", "w") as handle:
            json.dump(payload, handle)
        if seq % 20000 == 0:
            print(f"  {seq} markers", flush=True)
    (folder / "next").write_text(str(n + 1))


def naive_new(zone: LandingZone, after: int) -> list[dict]:
    names = sorted(name for name in os.listdir(zone.completed_dir) if name.endswith(".json"))
    return [json.loads((zone.completed_dir / name).read_text()) for name in names if int(name[:-5]) > after]


def timed(fn, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def sensor_tick(data_dir: Path, cursor: str):
    warnings.simplefilter("ignore")
    import dagster as dg

    from fleet_assets.warehouse.resources import FleetStorage
    from fleet_assets.trips.defs import defs as trips_defs
    from fleet_assets.trips.sensors import completed_trips_sensor

    storage = FleetStorage(data_dir=str(data_dir))
    defs = dg.Definitions.merge(trips_defs, dg.Definitions(resources={"storage": storage}))
    with dg.instance_for_test() as instance:
        def tick():
            ctx = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources={"storage": storage})
            return completed_trips_sensor(ctx)

        tick()  # warm-up (imports, resource init)
        return timed(tick, 5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="Results: benchmarks/RESULTS.md, section 'Trip ingest'.")
    parser.add_argument("--quick", action="store_true", help="10k markers instead of 100k")
    parser.add_argument("--trips", type=int, default=100_000, help="markers already in the landing zone")
    parser.add_argument("--new", type=int, default=10, help="new trips the tick finds")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    if args.quick:
        args.trips = 10_000
    with tempfile.TemporaryDirectory(prefix="sensor-tick-") as tmp:
        zone = LandingZone(Path(tmp) / "landing")
        print(f"writing {args.trips} completion markers ...", flush=True)
        start = time.perf_counter()
        fill(zone, args.trips)
        print(f"  done in {time.perf_counter() - start:.1f} s", flush=True)
        after = args.trips - args.new
        t_cursor, found = timed(lambda: zone.read_completions(after), args.repeats)
        t_naive, found_naive = timed(lambda: naive_new(zone, after), args.repeats)
        assert len(found) == len(found_naive) == args.new
        cursor = json.dumps({"seq": after, "pending": []})
        t_sensor, result = sensor_tick(Path(tmp), cursor)
        assert json.loads(result.cursor)["seq"] == args.trips
    print(f"\nmachine: nproc={os.cpu_count()} cpu={_cpu()} python={platform.python_version()}")
    print(f"{args.trips} trips in the landing zone, {args.new} new since the cursor (median of {args.repeats})")
    print("| method | ms per tick | vs naive |")
    print("|---|---:|---:|")
    print(f"| naive full scan (listdir + sort + filter) | {t_naive * 1000:.2f} | 1.0x |")
    print(f"| cursor read (read_completions) | {t_cursor * 1000:.3f} | {t_naive / t_cursor:.0f}x faster |")
    print(f"| whole sensor evaluation (build_sensor_context) | {t_sensor * 1000:.2f} | {t_naive / t_sensor:.1f}x faster |")
    return 0


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
