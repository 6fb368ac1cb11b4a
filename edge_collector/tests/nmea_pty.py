"""Test helpers: real gpsd logs and a pseudo-terminal that plays them like a serial GPS."""

from __future__ import annotations

import os
import threading
import time
import tty
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]
_SHARED = _REPO.parent / "shared" / "data" / "nmea"
_LOCAL = Path(__file__).resolve().parent / "data" / "nmea"


def nmea_log(name: str) -> Path:
    """Prefer ../shared/data/nmea next to the repo; fall back to the copy in tests/data (fresh clone)."""
    shared = _SHARED / name
    return shared if shared.exists() else _LOCAL / name


def log_lines(name: str) -> list[bytes]:
    return [l for l in nmea_log(name).read_bytes().splitlines() if l.strip() and not l.startswith(b"#")]


class NmeaPty:
    """A pty pair: the slave is the 'GPS device' path; ``feed`` writes lines to the master."""

    def __init__(self) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.name = os.ttyname(self.slave)

    def feed(self, lines: list[bytes], *, delay: float = 0.0) -> threading.Thread:
        def run():
            for line in lines:
                os.write(self.master, line + b"\r\n")
                if delay:
                    time.sleep(delay)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
