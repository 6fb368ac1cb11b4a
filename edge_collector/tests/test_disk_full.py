"""The disk (not our budget) fills up: clear refusal, nothing partial, no wedged transaction, no crash.

SQLite's ``max_page_count`` makes the real SQLite engine return SQLITE_FULL
exactly as a full SD card would, without needing a tiny filesystem.
"""

from __future__ import annotations

import logging

import pytest

from edge_collector.buffer import BufferFullError, EventBuffer
from edge_collector.collector import Collector, CollectorConfig
from edge_collector.gps import GpsState
from edge_collector.replay import replay
from edge_collector.synthetic import synthetic_drive

from .conftest import T0, VIN, sample_rows


def _cap_pages(buffer: EventBuffer, extra_pages: int) -> None:
    pages = buffer._db.execute("PRAGMA page_count").fetchone()[0]
    buffer._db.execute(f"PRAGMA max_page_count = {pages + extra_pages}")


def test_disk_full_refuses_batch_cleanly_and_recovers(tmp_path, caplog):
    with EventBuffer(tmp_path / "b.db") as buf, caplog.at_level(logging.WARNING, "edge_collector"):
        trip = buf.start_trip(VIN, T0)
        buf.append(trip, sample_rows(100))
        _cap_pages(buf, 2)
        for _ in range(3):
            with pytest.raises(BufferFullError, match=r"disk full: SQLite could not write .*b\.db \(database or disk "
                                                      r"is full\); nothing was stored"):
                buf.append(trip, sample_rows(2000, 100))
        assert buf.record_count(trip) == 100  # the refused batches left nothing behind
        # no transaction was left open: a batch that fits still goes in, with the next seq
        assert buf.append(trip, sample_rows(1, 100)) == [101]
        buf._db.execute("PRAGMA max_page_count = 1073741823")
        assert buf.append(trip, sample_rows(2000, 101)) == list(range(102, 2102))
        messages = [r.getMessage() for r in caplog.records]
        assert sum("refusal #" in m for m in messages) == 1  # loud once, not per refusal
        assert any("3 writes were refused while it was full" in m for m in messages)


def test_collector_keeps_running_when_the_disk_fills(tmp_path):
    with EventBuffer(tmp_path / "b.db") as buf:
        collector = Collector(buf, CollectorConfig(vin=VIN, flush_max_records=50), gps=GpsState())
        replay(collector, synthetic_drive(100))
        assert collector.acked > 0
        _cap_pages(buf, 1)
        replay(collector, synthetic_drive(600, start=T0.replace(hour=9)))  # used to raise sqlite3.OperationalError
        collector.end_current_trip("end of test")
        assert collector.dropped > 0
        stored = sum(buf.record_count(t["trip_id"]) for t in buf.trips())
    assert stored == collector.acked  # what was acknowledged is exactly what is stored
