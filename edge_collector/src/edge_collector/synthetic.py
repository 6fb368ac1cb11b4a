"""A synthetic NMEA drive (RMC/GGA/VTG/GSA at 1 Hz, valid checksums) for demos and benchmarks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pynmea2

START = datetime(2025, 11, 4, 8, 0, 0, tzinfo=timezone.utc)


def _dm(value: float, width: int) -> str:
    value = abs(value)
    degrees = int(value)
    return f"{degrees:0{width}d}{(value - degrees) * 60:07.4f}"


def synthetic_drive(seconds: int, *, start: datetime = START, lat: float = 49.5891, lon: float = 8.6527,
                    stop_every: int = 0) -> Iterator[bytes]:
    """Yield NMEA lines of a drive: speed 0-90 km/h in waves, optional stops of 150 s every ``stop_every`` s."""
    heading = 90.0
    for i in range(seconds):
        t = start + timedelta(seconds=i)
        stopped = stop_every and (i % stop_every) >= stop_every - 150
        kph = 0.0 if stopped else 45.0 + 45.0 * math.sin(i / 60.0)
        lon += (kph / 3.6) / (111_320 * math.cos(math.radians(lat)))
        hhmmss, ddmmyy = t.strftime("%H%M%S.00"), t.strftime("%d%m%y")
        ns, ew = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
        kn = kph / 1.852
        sentences = [
            pynmea2.RMC("GP", "RMC", (hhmmss, "A", _dm(lat, 2), ns, _dm(lon, 3), ew, f"{kn:.2f}", f"{heading:.1f}",
                                      ddmmyy, "", "", "A")),
            pynmea2.GGA("GP", "GGA", (hhmmss, _dm(lat, 2), ns, _dm(lon, 3), ew, "1", "09", "0.9", "250.0", "M",
                                      "47.0", "M", "", "")),
            pynmea2.VTG("GP", "VTG", (f"{heading:.1f}", "T", "", "M", f"{kn:.2f}", "N", f"{kph:.2f}", "K", "A")),
            pynmea2.GSA("GP", "GSA", ("A", "3", "01", "02", "03", "04", "05", "06", "", "", "", "", "", "",
                                      "1.5", "0.9", "1.2")),
        ]
        for sentence in sentences:
            yield str(sentence).encode("ascii")
