"""A full buffer is loud once, not once per sample, and every refused sample is counted as dropped."""

from __future__ import annotations

import logging
from datetime import timedelta

import pynmea2
import pytest

from edge_collector.buffer import BufferFullError, EventBuffer
from edge_collector.collector import Collector, CollectorConfig
from edge_collector.gps import GpsState
from edge_collector.replay import replay
from edge_collector.synthetic import synthetic_drive

from .conftest import T0, VIN, sample_rows


def _full_buffer(path):
    """A buffer whose budget is used up by an ended trip the server has not confirmed."""
    with EventBuffer(path) as buf:
        first = buf.start_trip(VIN, T0)
        buf.append(first, sample_rows(2000))
        buf.end_trip(first, T0 + timedelta(hours=1))
        used = buf.used_bytes()
    return first, used


def test_refusals_logged_on_change_and_recovery_reported(tmp_path, caplog):
    first, used = _full_buffer(tmp_path / "b.db")
    with EventBuffer(tmp_path / "b.db", max_bytes=used) as buf, caplog.at_level(logging.WARNING, "edge_collector"):
        for _ in range(2500):
            with pytest.raises(BufferFullError, match="buffer full: .* not yet confirmed by the server; new trip"):
                buf.start_trip(VIN, T0 + timedelta(hours=2))
        errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
        assert [e.rsplit("#", 1)[1] for e in errors] == ["1 since it filled)", "1001 since it filled)",
                                                          "2001 since it filled)"]
        assert buf.trips()[-1]["trip_id"] == first and buf.record_count(first) == 2000  # nothing written or lost
        caplog.clear()
        buf.mark_trip_uploaded(first)  # server confirmed: its records may now be pruned to make room
        second = buf.start_trip(VIN, T0 + timedelta(hours=2))
        assert buf.record_count(first) == 0 and buf.append(second, sample_rows(1)) == [1]
        messages = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("pruned records of uploaded trip") for m in messages)
        (recovered,) = [m for m in messages if "buffer has space again" in m]
        assert "2500 writes were refused" in recovered


def _active_epochs(seconds: int) -> int:
    """Epochs of the drive that would start a trip (moving), judged by the collector's own detector."""
    detector = Collector(None, CollectorConfig(vin=VIN)).detector
    rmcs = [pynmea2.parse(line.decode()) for line in synthetic_drive(seconds) if b"RMC" in line[:6]]
    return sum(detector.is_active(None, rmc.spd_over_grnd * 1.852) for rmc in rmcs)


def test_collector_counts_samples_it_could_not_store(tmp_path, caplog):
    expected = _active_epochs(300)
    _, used = _full_buffer(tmp_path / "b.db")
    with EventBuffer(tmp_path / "b.db", max_bytes=used) as buf, caplog.at_level(logging.ERROR, "edge_collector"):
        collector = Collector(buf, CollectorConfig(vin=VIN), gps=GpsState())
        result = replay(collector, synthetic_drive(300))
        assert result.steps == 300
        assert 0 < expected < 300
        assert collector.acked == 0 and collector.dropped == expected  # every active epoch refused, and counted
        collector_errors = [r for r in caplog.records if r.name == "edge_collector.collector"]
        assert len(collector_errors) == 1 and "trip not started (sample dropped" in collector_errors[0].getMessage()


def test_missing_vin_is_logged_once_and_counted(tmp_path, caplog):
    with EventBuffer(tmp_path / "b.db") as buf, caplog.at_level(logging.ERROR, "edge_collector"):
        collector = Collector(buf, CollectorConfig(vin=None), gps=GpsState())
        replay(collector, synthetic_drive(120))
        assert collector.dropped == _active_epochs(120) > 0
        assert buf.trips() == []
        messages = [r.getMessage() for r in caplog.records]
        assert len(messages) == 1 and "no VIN and none is configured" in messages[0]
