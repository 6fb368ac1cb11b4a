"""A sentence that claims a fix but has empty position fields must not become a 0.0/0.0 fix."""

from __future__ import annotations

import pytest

from edge_collector.gps import GpsState


def _nmea(body: str) -> str:
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    return f"${body}*{checksum:02X}"


GOOD_RMC = _nmea("GPRMC,081836,A,4807.038,N,01131.000,E,022.4,084.4,130998,003.1,W")


@pytest.mark.parametrize("line", [
    _nmea("GPRMC,081837,A,,,,,0.0,0.0,130998,011.3,E"),
    _nmea("GPGGA,081837,,,,,1,08,0.9,545.4,M,46.9,M,,"),
    _nmea("GPGGA,081837,4807.038,N,,,1,08,0.9,545.4,M,46.9,M,,"),
])
def test_empty_position_clears_the_fix(line):
    gps = GpsState()
    gps.feed_line(GOOD_RMC, 100.0)
    assert gps.latest(100.0, 3.0).lat == pytest.approx(48.1173)
    gps.feed_line(line, 101.0)
    assert gps.latest(101.0, 3.0) is None  # no Null Island, and the old fix is not carried on either
    assert gps.counters.no_fix == 1 and gps.counters.checksum_errors == 0
