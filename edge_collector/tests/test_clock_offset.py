"""The collector records how far its clock is from GPS time, once per trip (a Pi has no RTC)."""

from __future__ import annotations

import logging

import pytest

from edge_collector.buffer import EventBuffer
from edge_collector.cli import main
from edge_collector.collector import Collector, CollectorConfig
from edge_collector.gps import GpsState
from edge_collector.replay import replay, rmc_time
from edge_collector.synthetic import synthetic_drive

VIN = "WAUZZZFY0R1234567"


def _drive_with_skewed_clock(collector: Collector, seconds: int, skew_s: float) -> None:
    """Feed each epoch as the live loop would, with a system clock ``skew_s`` ahead of GPS time."""
    lines = list(synthetic_drive(seconds))
    for epoch in range(0, len(lines), 4):
        now = rmc_time(lines[epoch]) + skew_s
        for line in lines[epoch:epoch + 4]:
            collector.gps.feed_line(line, now)
        collector.step(now)
    collector.flush()


def test_skewed_clock_is_recorded_in_trip_meta_and_warned_once(tmp_path, caplog, capsys):
    status = tmp_path / "status.json"
    with EventBuffer(tmp_path / "b.db") as buf, caplog.at_level(logging.WARNING, "edge_collector"):
        collector = Collector(buf, CollectorConfig(vin=VIN, status_path=status), gps=GpsState())
        _drive_with_skewed_clock(collector, 120, skew_s=3600.0)  # clock 1 h ahead (stale fake-hwclock, no NTP)
        collector.end_current_trip("end of test")
        (trip,) = buf.trips()
        assert buf.trip(trip["trip_id"])["meta"]["clock_offset_s"] == pytest.approx(-3600.0)
    assert collector.clock_offset_s == pytest.approx(-3600.0)
    warnings = [r.getMessage() for r in caplog.records if "off GPS time" in r.getMessage()]
    assert len(warnings) == 1 and "-3600 s off GPS time" in warnings[0]
    assert main(["status", "--db", str(tmp_path / "b.db"), "--status-file", str(status)]) == 0
    assert "system clock vs GPS: -3600.0 s  (WRONG CLOCK: check NTP)" in capsys.readouterr().out


def test_replay_clock_is_gps_time_so_offset_is_zero(tmp_path, caplog):
    with EventBuffer(tmp_path / "b.db") as buf, caplog.at_level(logging.WARNING, "edge_collector"):
        collector = Collector(buf, CollectorConfig(vin=VIN, status_path=tmp_path / "status.json"), gps=GpsState())
        replay(collector, synthetic_drive(60))
        collector.end_current_trip("end of test")
        collector.write_status(0.0, force=True)
        (trip,) = buf.trips()
        assert buf.trip(trip["trip_id"])["meta"]["clock_offset_s"] == 0.0
    assert not [r for r in caplog.records if "off GPS time" in r.getMessage()]
    assert '"clock_offset_s": 0.0' in (tmp_path / "status.json").read_text()
