"""An unwritable status file is reported once and never stops collection."""

from __future__ import annotations

import logging

from edge_collector.buffer import EventBuffer
from edge_collector.collector import Collector, CollectorConfig
from edge_collector.gps import GpsState
from edge_collector.replay import replay
from edge_collector.synthetic import START, synthetic_drive

VIN = "WAUZZZFY0R1234567"


def test_unwritable_status_file_is_logged_once_and_collection_goes_on(tmp_path, caplog):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the status directory should be\n")
    status = blocker / "status.json"
    with EventBuffer(tmp_path / "b.db") as buf, caplog.at_level(logging.WARNING, "edge_collector"):
        collector = Collector(buf, CollectorConfig(vin=VIN, status_path=status), gps=GpsState())
        replay(collector, synthetic_drive(120))
        collector.end_current_trip("end of test")
        assert collector.acked == 120 and collector.dropped == 0
    warnings = [r.getMessage() for r in caplog.records if "cannot write status file" in r.getMessage()]
    assert len(warnings) == 1 and str(status) in warnings[0] and "collection continues" in warnings[0]
    assert blocker.read_text() == "a file where the status directory should be\n"


def test_status_file_recovers_when_writable_again(tmp_path, caplog):
    status_dir = tmp_path / "run"
    status_dir.write_text("x")  # blocks the directory at first
    with EventBuffer(tmp_path / "b.db") as buf, caplog.at_level(logging.WARNING, "edge_collector"):
        collector = Collector(buf, CollectorConfig(vin=VIN, status_path=status_dir / "status.json"), gps=GpsState())
        replay(collector, synthetic_drive(30))
        status_dir.unlink()
        replay(collector, synthetic_drive(30, start=START.replace(hour=9)))
    assert (status_dir / "status.json").exists()
