"""GPS: real receiver logs through a pty into the serial reader; bad lines counted, never fatal."""

from __future__ import annotations

import pytest

from edge_collector.gps import GpsState
from edge_collector.serial_ports import GpsSerialReader

from .nmea_pty import NmeaPty, log_lines, wait_for

# Sentence counts per log (pynmea2 1.19, check=True), cross-checked with the logs' README.
EXPECTED = {
    "nl2008u.log": {"RMC": 9, "GGA": 9, "VTG": 9, "GSA": 18, "GSV": 56, "GLL": 9, "ZDA": 9, "TXT": 8},
    "bt451.log": {"RMC": 17, "GGA": 17, "VTG": 17, "GSA": 17, "GSV": 36, "GLL": 17, "ZDA": 17, "TXT": 6},
    "haicom-305N.log": {"RMC": 74},
}
# (lat range, lon range) of the last fix: Black Forest DE, Lithuania, Queensland AU.
WHERE = {
    "nl2008u.log": ((47.5, 48.5), (7.5, 8.5)),
    "bt451.log": ((54.0, 56.0), (23.0, 26.0)),
    "haicom-305N.log": ((-28.0, -26.5), (152.5, 153.5)),
}


@pytest.mark.parametrize("log", sorted(EXPECTED))
def test_real_logs_through_pty(log):
    lines = log_lines(log)
    pty = NmeaPty()
    state = GpsState()
    reader = GpsSerialReader(pty.name, state, baudrate=4800)
    reader.open()  # open before feeding: pyserial flushes the input queue on open
    reader.start()
    try:
        pty.feed(lines)
        assert wait_for(lambda: state.counters.lines >= len(lines)), state.counters
    finally:
        reader.stop()
        pty.close()
    c = state.counters
    assert c.checksum_errors == c.parse_errors == c.garbage == c.unknown_sentences == 0
    for kind, count in EXPECTED[log].items():
        assert c.sentences[kind] == count, (kind, dict(c.sentences))
    fix = state._fix
    (lat_lo, lat_hi), (lon_lo, lon_hi) = WHERE[log]
    assert fix is not None and lat_lo < fix.lat < lat_hi and lon_lo < fix.lon < lon_hi


def test_void_sentences_give_no_position():
    state = GpsState()
    for line in log_lines("bt451.log")[:40]:  # the log starts with void RMC / no-fix GGA
        if b"RMC,,V" in line or b"GGA" in line and b",0," in line:
            state.feed_line(line, 1.0)
            assert state.latest(1.0, 5.0) is None
    assert state.counters.no_fix >= 4
    haicom = GpsState()
    for line in log_lines("haicom-305N.log"):
        haicom.feed_line(line, 1.0)
        fix = haicom.latest(1.0, 5.0)
        assert fix is None or (fix.lat != 0.0 and fix.lon != 0.0)  # pynmea2 reports 0.0 for no-fix


def _with_checksum(body: bytes) -> bytes:
    checksum = 0
    for byte in body:
        checksum ^= byte
    return b"$" + body + b"*%02X" % checksum


def _corrupt(lines: list[bytes]) -> tuple[list[bytes], dict]:
    good = lines[:]
    bad_sum = good[5][:-2] + (b"00" if not good[5].endswith(b"00") else b"11")
    injected = [
        bad_sum,                                       # checksum mismatch
        good[7][: good[7].index(b"*") - 3],            # truncated, checksum missing
        b"\x00\xff\xfe\x10garbage!!",                  # line noise, no '$'
        b"\xb5b\x01\x07\x5c" + good[9],                # UBX binary glued in front: resynced, parses
        _with_checksum(b"GPXYZ,1,2,3"),                # unknown sentence type (valid checksum)
        b"$GPRMC,1*G1",                                # malformed checksum
        b"",                                           # empty line
    ]
    mixed = good[:10] + injected + good[10:]
    expected = {"checksum_errors": 2, "parse_errors": 1, "garbage": 1, "resynced": 1, "unknown_sentences": 1}
    return mixed, expected


def test_garbage_counted_and_skipped_direct():
    lines = log_lines("nl2008u.log")
    mixed, expected = _corrupt(lines)
    state = GpsState()
    parsed = [state.feed_line(line, 1.0) for line in mixed]
    c = state.counters
    for name, value in expected.items():
        assert getattr(c, name) == value, (name, c)
    assert c.checksum_errors + c.parse_errors + c.garbage + c.unknown_sentences == 5
    assert sum(1 for p in parsed if p is not None) == len(lines) + 1  # every good line + the resynced one
    assert c.sentences["RMC"] == 9 and c.sentences["VTG"] == 10  # good[9] is a VTG, parsed twice


def test_garbage_through_pty_does_not_kill_reader():
    mixed, expected = _corrupt(log_lines("bt451.log"))
    pty = NmeaPty()
    state = GpsState()
    reader = GpsSerialReader(pty.name, state)
    reader.open()
    reader.start()
    try:
        pty.feed(mixed)
        assert wait_for(lambda: state.counters.lines >= len(mixed))
        assert reader.is_alive()
    finally:
        reader.stop()
        pty.close()
    for name, value in expected.items():
        assert getattr(state.counters, name) == value


def test_unplugged_gps_reader_keeps_retrying():
    pty = NmeaPty()
    state = GpsState()
    gaps = []
    reader = GpsSerialReader(pty.name, state, on_gap=lambda a, b, why: gaps.append(why))
    reader.open()
    reader.start()
    try:
        pty.feed(log_lines("nl2008u.log")[:20]).join()
        assert wait_for(lambda: state.counters.lines >= 20)
        pty.close()  # unplug: reads fail, the thread must survive and keep trying to reopen
        assert wait_for(lambda: reader._serial is None, timeout=5)
        assert reader.is_alive()
    finally:
        reader.stop()


def test_stale_fix_is_not_used():
    state = GpsState()
    for line in log_lines("nl2008u.log"):
        state.feed_line(line, 100.0)
    assert state.latest(101.0, 3.0) is not None
    assert state.latest(104.5, 3.0) is None
    assert state.latest(99.0, 3.0) is None  # clock went backwards: not trusted


def test_gps_replugged_under_the_same_path_reopens_and_reports_gap(tmp_path):
    from edge_collector.obd_reader import Backoff

    link = tmp_path / "gps0"
    first = NmeaPty()
    link.symlink_to(first.name)
    state, gaps = GpsState(), []
    reader = GpsSerialReader(str(link), state, on_gap=lambda a, b, why: gaps.append((a, b, why)),
                             backoff=Backoff(initial_s=0.1, max_s=0.2))
    reader.open()
    reader.start()
    second = None
    try:
        first.feed(log_lines("nl2008u.log")[:20]).join()
        assert wait_for(lambda: state.counters.lines >= 20)
        first.close()  # unplug
        assert wait_for(lambda: reader._serial is None, timeout=5)
        second = NmeaPty()
        new_link = tmp_path / "gps0.new"
        new_link.symlink_to(second.name)
        new_link.replace(link)  # replug: udev points the same by-id path at the new device
        assert wait_for(lambda: len(gaps) == 1, timeout=10)
        second.feed(log_lines("nl2008u.log")[20:40])
        assert wait_for(lambda: state.counters.lines >= 40, timeout=10)
    finally:
        reader.stop()
        if second:
            second.close()
    started, ended, why = gaps[0]
    assert ended > started and "reopened" in why and reader.is_alive() is False
