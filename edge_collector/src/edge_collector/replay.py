"""Drive the real pipeline from a recorded NMEA log on a virtual clock.

The clock follows the receiver's RMC time (void RMC: +1 s), the collector
steps once per accepted RMC (the epoch), and ``speedup`` paces the replay against wall time
(0 = as fast as possible). OBD, if given, is sampled live at every step, so a
recorded drive plus the ELM327 emulator exercises everything ``run`` does.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from edge_collector.collector import Collector
from edge_collector.gps import GpsState, parse_line, rmc_utc

MAX_SLEEP_S = 5.0  # recorded logs contain cuts of many minutes; never wait that long


@dataclass
class ReplayResult:
    lines: int = 0
    steps: int = 0
    wall_s: float = 0.0


def iter_log_lines(path: Path) -> Iterator[bytes]:
    """Stream the lines of a gpsd-style log, skipping '#' comment lines (metadata, not receiver output).

    Streamed, not read whole: a day-long log is ~20 MB and would push the
    collector past its memory budget on a Pi.
    """
    with open(path, "rb") as handle:
        for chunk in handle:
            for line in chunk.splitlines():  # also splits a bare CR, like bytes.splitlines on the whole file
                if line.strip() and not line.startswith(b"#"):
                    yield line


def read_log_lines(path: Path) -> list[bytes]:
    """``iter_log_lines`` as a list (small logs, tests)."""
    return list(iter_log_lines(path))


def rmc_time(line: bytes) -> float | None:
    """Receiver UTC time of a valid RMC line (binary noise in front is cut off), else None."""
    parsed = parse_line(line)
    return rmc_utc(parsed.msg) if parsed.is_rmc else None


def _clock_start(lines) -> tuple[float, list[bytes]]:
    """Start the clock so that the first valid RMC lands on its own time (void epochs before it: 1 s each).

    Only the lines up to that RMC are held in memory; without any valid RMC the clock starts now.
    A rejected RMC is no epoch, here as in ``replay``.
    """
    head: list[bytes] = []
    void_epochs = 0
    probe = GpsState()  # the same acceptance test as the replay's own GpsState
    for line in lines:
        head.append(line)
        if b"RMC," not in line:
            continue
        parsed = parse_line(line)
        if not parsed.is_rmc or probe.feed(parsed, 0.0) is None:
            continue
        t = rmc_utc(parsed.msg)
        if t is not None:
            return t - void_epochs - 1.0, head
        void_epochs += 1
    return time.time(), head


def replay(collector: Collector, lines: Iterable[bytes], *, speedup: float = 0.0, start: float | None = None,
           progress: Callable[[ReplayResult], None] | None = None, progress_every: int = 5000,
           sleep: Callable[[float], None] = time.sleep) -> ReplayResult:
    """Feed ``lines`` into ``collector.gps`` and step the collector per epoch; flushes at the end.

    An epoch is an RMC the GPS state accepted, wherever it sits on its line
    (after binary noise too). A rejected RMC (bad checksum, truncated) opens
    none: stepping on it would time a record with the previous second's fix.
    """
    result = ReplayResult()
    began = time.perf_counter()
    lines = iter(lines)
    if start is None:
        start, head = _clock_start(lines)
        lines = itertools.chain(head, lines)
    vnow = start
    resumed = False
    for line in lines:
        result.lines += 1
        parsed = parse_line(line)
        if not parsed.is_rmc:
            collector.gps.feed(parsed, vnow)
            continue
        t = rmc_utc(parsed.msg)
        new = t if t is not None else vnow + 1.0  # void RMC: the receiver still ticks once per second
        if collector.gps.feed(parsed, new) is None:
            continue
        if speedup > 0:
            sleep(min(max(new - vnow, 0.0), MAX_SLEEP_S) / speedup)
        vnow = new
        if not resumed:  # an open trip is judged against the recording's clock, not wall time
            collector.resume(vnow)
            resumed = True
        collector.step(vnow)
        result.steps += 1
        if progress and result.steps % progress_every == 0:
            progress(result)
    collector.flush()
    result.wall_s = time.perf_counter() - began
    return result
