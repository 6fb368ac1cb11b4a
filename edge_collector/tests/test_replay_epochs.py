"""Replay epochs: every accepted RMC opens exactly one epoch, a rejected one opens none.

The real drive in nl2008u.log (u-blox 8, GN talker) is damaged the way receivers
damage their output: UBX binary glued in front of a sentence (as in gpsd's
ublox-8.log) and a sentence cut short at the end of a capture.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pynmea2

from edge_collector.collector import Collector, CollectorConfig
from edge_collector.gps import GpsState
from edge_collector.replay import read_log_lines, replay

from .conftest import VIN
from .nmea_pty import nmea_log

# Binary in UBX framing (sync 0xB5 0x62, NAV-PVT class/id 0x01 0x07, then payload bytes). gpsd's ublox-8.log (not
# in this repo) has such a line with a valid "$GNRMC" glued to its end; these bytes are made up, the sentence is real.
UBX_JUNK = b"\xb5b\x01\x07\\\x00\x00\x10\x9b\x1c\xe1\x07\x01\t\x00\n4\xf7\xff\xff\xff"


def _drive() -> list[bytes]:
    return read_log_lines(nmea_log("nl2008u.log"))


def _rmc_index(lines: list[bytes], hhmmss: bytes) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(b"$GNRMC," + hhmmss))


def _records(buffer, lines: list[bytes]):
    collector = Collector(buffer, CollectorConfig(vin=VIN, idle_timeout_s=30), gps=GpsState())
    result = replay(collector, lines)
    collector.end_current_trip("end of replay")
    rows = [(r["ts"], r["lat"], r["lon"]) for t in buffer.trips() for r in buffer.iter_records(t["trip_id"])]
    return result, collector, rows


def _rmc_positions(lines: list[bytes]) -> dict[str, tuple[float, float]]:
    """Receiver second (ISO, 'Z') -> the position that RMC reported."""
    out = {}
    for line in lines:
        if line.startswith(b"$GNRMC,"):
            msg = pynmea2.parse(line.decode(), check=True)
            stamp = msg.datetime.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            out[stamp] = (round(msg.latitude, 6), round(msg.longitude, 6))
    return out


def test_resynced_rmc_after_binary_junk_is_an_epoch(tmp_path):
    from edge_collector.buffer import EventBuffer

    clean = _drive()
    noisy = list(clean)
    i = _rmc_index(noisy, b"091505.000")  # mid-drive, moving at 9.5 kn
    noisy[i] = UBX_JUNK + noisy[i]
    with EventBuffer(tmp_path / "clean.db") as buf:
        clean_result, _, clean_rows = _records(buf, clean)
    with EventBuffer(tmp_path / "noisy.db") as buf:
        result, collector, rows = _records(buf, noisy)
    assert collector.gps.counters.resynced == 1 and collector.gps.counters.parse_errors == 0
    assert result.steps == clean_result.steps == 9
    assert [r[0] for r in rows] == [r[0] for r in clean_rows]  # 09:15:05 is not lost
    assert any(r[0].startswith("2015-10-10T09:15:05") for r in rows)
    assert rows == clean_rows


def test_truncated_final_rmc_opens_no_epoch(tmp_path):
    from edge_collector.buffer import EventBuffer

    lines = _drive()
    i = _rmc_index(lines, b"091507.000")  # moving; its predecessor 09:15:06 is a complete epoch
    truncated = lines[i][: lines[i].index(b",E,") + 5]  # "$GNRMC,091507.000,A,...,E,10" : no checksum
    capture = lines[:i] + [truncated]
    with EventBuffer(tmp_path / "b.db") as buf:
        result, collector, rows = _records(buf, capture)
    assert collector.gps.counters.checksum_errors == 1
    assert result.steps == 6  # 09:12:32, 09:12:33, 09:15:03 … 09:15:06
    stamps = [r[0][:19] for r in rows]
    assert stamps == [f"2015-10-10T09:15:0{s}" for s in (3, 4, 5, 6)]
    positions = _rmc_positions(lines)
    for ts, lat, lon in rows:  # no record carries another second's position
        assert (round(lat, 6), round(lon, 6)) == positions[ts[:19] + "Z"], ts


def test_rejected_rmc_mid_stream_opens_no_epoch(tmp_path):
    from edge_collector.buffer import EventBuffer

    lines = _drive()
    i = _rmc_index(lines, b"091505.000")
    corrupt = list(lines)
    corrupt[i] = lines[i][:-2] + (b"00" if not lines[i].endswith(b"00") else b"11")  # wrong checksum
    with EventBuffer(tmp_path / "b.db") as buf:
        result, collector, rows = _records(buf, corrupt)
    assert collector.gps.counters.checksum_errors == 1 and result.steps == 8
    positions = _rmc_positions(lines)
    assert "2015-10-10T09:15:05" not in [r[0][:19] for r in rows]
    for ts, lat, lon in rows:
        assert (round(lat, 6), round(lon, 6)) == positions[ts[:19] + "Z"], ts


def test_clock_starts_at_a_resynced_first_fix():
    from edge_collector.replay import _clock_start, rmc_time

    lines = _drive()
    first = _rmc_index(lines, b"091232.000")
    lines[first] = UBX_JUNK + lines[first]
    start, head = _clock_start(iter(lines))
    expected = datetime(2015, 10, 10, 9, 12, 32, tzinfo=timezone.utc).timestamp()
    assert rmc_time(lines[first]) == expected
    assert start == expected - 1.0 and len(head) == first + 1
