"""One glitching reading must cost one field, not the whole flush batch."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import datetime, timezone

import pynmea2
import pytest

from edge_collector.buffer import EventBuffer
from edge_collector.collector import Collector, CollectorConfig
from edge_collector.fusion import fuse
from edge_collector.gps import GpsFix, GpsState
from edge_collector.replay import replay
from edge_collector.synthetic import synthetic_drive

VIN = "WAUZZZFY0R1234567"
T = datetime(2025, 11, 4, 8, tzinfo=timezone.utc).timestamp()


def test_out_of_range_values_are_nulled_and_kept_in_extra():
    fix = GpsFix(lat=49.5, lon=8.6, received_at=T, speed_kph=740.8)
    row = fuse(T, {"speed_kph": None, "rpm": 25_000.0, "coolant_c": math.nan, "throttle_pos": 0.3}, fix,
               {"engine_load": 40.0})
    assert row["speed_kph"] is None and row["rpm"] is None and row["coolant_c"] is None
    assert row["throttle_pos"] == 0.3 and (row["lat"], row["lon"]) == (49.5, 8.6)
    assert row["extra"]["engine_load"] == 40.0
    assert row["extra"]["speed_kph_out_of_range"] == 740.8 and row["extra"]["rpm_out_of_range"] == 25_000.0
    assert math.isnan(row["extra"]["coolant_c_out_of_range"])


def test_gps_speed_fills_in_for_a_bogus_obd_speed():
    fix = GpsFix(lat=49.5, lon=8.6, received_at=T, speed_kph=52.0)
    row = fuse(T, {"speed_kph": 900.0}, fix)
    assert row["speed_kph"] == 52.0 and row["extra"] == {"speed_kph_out_of_range": 900.0}


def test_in_range_row_is_unchanged():
    row = fuse(T, {"speed_kph": 500.0, "rpm": 0.0}, None)
    assert row["speed_kph"] == 500.0 and row["rpm"] == 0.0 and "extra" not in row


def _glitched_drive(seconds: int, glitch_epoch: int) -> list[bytes]:
    lines = []
    for i, line in enumerate(synthetic_drive(seconds)):
        if i // 4 == glitch_epoch:  # a receiver glitch with valid checksums: 400 kn / 740.8 km/h
            msg = pynmea2.parse(line.decode())
            if msg.sentence_type == "RMC":
                msg.data[6] = "400.0"
            if msg.sentence_type == "VTG":
                msg.data[4], msg.data[6] = "400.0", "740.8"
            line = str(msg).encode()
        lines.append(line)
    return lines


def test_gps_glitch_does_not_drop_the_batch(tmp_path):
    with EventBuffer(tmp_path / "buffer.db") as buffer:
        collector = Collector(buffer, CollectorConfig(vin=VIN, flush_max_records=500), gps=GpsState())
        replay(collector, _glitched_drive(600, glitch_epoch=300))
        collector.end_current_trip("end of test")
        assert (collector.acked, collector.dropped) == (600, 0)
        (trip,) = [t["trip_id"] for t in buffer.trips()]
        records = list(buffer.iter_records(trip))
    assert len(records) == 600
    glitch = records[300]
    assert glitch["speed_kph"] is None and glitch["lat"] is not None
    with sqlite3.connect(tmp_path / "buffer.db") as db:  # the raw reading is kept locally for diagnosis
        (text,) = db.execute("SELECT extra_json FROM events WHERE trip_id = ? AND seq = ?",
                             (trip, glitch["seq"])).fetchone()
    assert json.loads(text) == {"speed_kph_out_of_range": pytest.approx(740.8)}
