"""Real NMEA logs through the whole pipeline (GPS → fusion → trips → buffer → chunks), no OBD."""

from __future__ import annotations

from datetime import datetime

import pytest
from fleet_protocol import decode_chunk

from edge_collector.buffer import EventBuffer
from edge_collector.chunking import cut_trip
from edge_collector.collector import Collector, CollectorConfig
from edge_collector.gps import GpsState
from edge_collector.replay import read_log_lines, replay
from edge_collector.synthetic import synthetic_drive

from .conftest import VIN
from .nmea_pty import nmea_log


def _collector(buffer, **config):
    return Collector(buffer, CollectorConfig(vin=VIN, **config), gps=GpsState())


def _ts(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_real_drive_logs_become_trips(buffer, tmp_path):
    collector = _collector(buffer, idle_timeout_s=30)
    lines = read_log_lines(nmea_log("nl2008u.log")) + read_log_lines(nmea_log("bt451.log"))
    result = replay(collector, lines)
    collector.end_current_trip("end of replay")
    assert result.steps == 9 + 17
    trips = buffer.trips()
    # nl2008u: one drive; bt451: parked part at 15:25, then (time goes backwards) the car part at 14:33
    assert len(trips) == 2, trips
    for trip in trips:
        manifest = cut_trip(buffer, trip["trip_id"], tmp_path)
        records = []
        for chunk in manifest.chunks:
            records += decode_chunk((tmp_path / f"{trip['trip_id']}-{chunk.no}.ndjson.gz").read_bytes(), vin=VIN)
        stamps = [r.ts for r in records]
        assert stamps == sorted(stamps) and [r.seq for r in records] == list(range(1, len(records) + 1))
        assert all(r.lat is not None and r.speed_kph is not None for r in records)
    nl = [t for t in trips if t["started_at"].startswith("2015-10-10")][0]
    assert nl["started_at"] == "2015-10-10T09:15:03Z" and nl["records"] == 5
    bt = [t for t in trips if t["started_at"].startswith("2009-12-09")][0]
    assert bt["started_at"].startswith("2009-12-09T14:33")  # the moving part, not the parked one


def test_synthetic_drive_with_stops_splits_trips(buffer):
    collector = _collector(buffer, idle_timeout_s=60)
    result = replay(collector, synthetic_drive(1200, stop_every=400))
    collector.end_current_trip("end of replay")
    trips = buffer.trips()
    assert result.steps == 1200 and len(trips) == 3
    for trip in trips:
        assert _ts(trip["ended_at"]) > _ts(trip["started_at"])
    assert sum(t["records"] for t in trips) == collector.acked


def test_restart_resumes_open_trip_with_next_seq(tmp_path):
    path = tmp_path / "b.db"
    lines = list(synthetic_drive(300))
    with EventBuffer(path) as buf:
        first = _collector(buf, idle_timeout_s=60)
        replay(first, lines[:600])  # 150 epochs, then the process "dies" with the trip open
        trip_id, acked = first.trip_id, first.acked
    with EventBuffer(path) as buf:
        second = _collector(buf, idle_timeout_s=60)
        replay(second, lines[600:])
        assert second.trip_id == trip_id
        seqs = [r["seq"] for r in buf.iter_records(trip_id)]
        assert seqs == list(range(1, acked + second.acked + 1))


def test_restart_after_long_pause_ends_stale_trip(tmp_path):
    path = tmp_path / "b.db"
    lines = list(synthetic_drive(400))
    with EventBuffer(path) as buf:
        replay(_collector(buf, idle_timeout_s=60), lines[:400])
    with EventBuffer(path) as buf:
        collector = _collector(buf, idle_timeout_s=60)
        collector.resume(datetime(2025, 11, 4, 9, 0, tzinfo=_ts("2025-11-04T00:00:00Z").tzinfo).timestamp())
        [old] = buf.trips()
        assert old["ended_at"] is not None and buf.trip(old["trip_id"])["meta"]["end_reason"] == "found open after restart"


@pytest.mark.parametrize("every", [7])
def test_replay_with_garbage_never_crashes(buffer, every):
    lines = list(synthetic_drive(200))
    noisy = []
    for i, line in enumerate(lines):
        wrong = b"1" if line.endswith(b"0") else b"0"
        noisy.append(line[:-1] + wrong if i % every == 0 else line)  # corrupt the checksum
    collector = _collector(buffer, idle_timeout_s=60)
    replay(collector, noisy)
    assert collector.gps.counters.checksum_errors == len(range(0, len(lines), every))
    assert collector.acked > 150


def test_replay_clock_starts_at_the_recording_not_now():
    from edge_collector.replay import _clock_start, rmc_time

    lines = read_log_lines(nmea_log("bt451.log"))  # starts with 4 void RMC epochs
    start, head = _clock_start(iter(lines))
    first_valid = next(rmc_time(l) for l in lines if rmc_time(l) is not None)
    assert start == first_valid - 5.0  # 4 void epochs of 1 s before it, then the valid one
    assert head == lines[: len(head)] and rmc_time(head[-1]) == first_valid


def test_trip_killed_before_its_first_flush_is_discarded_on_restart(tmp_path):
    path = tmp_path / "b.db"
    with EventBuffer(path) as buf:
        buf.start_trip(VIN, datetime(2025, 11, 4, 7, 0, tzinfo=_ts("2025-11-04T00:00:00Z").tzinfo))  # then SIGKILL
    with EventBuffer(path) as buf:
        collector = _collector(buf, idle_timeout_s=60)
        replay(collector, synthetic_drive(30))
        collector.end_current_trip("end of replay")
        trips = buf.trips()
        assert len(trips) == 1 and trips[0]["records"] == 30  # no empty manifest left pending upload
        assert buf.trips_ready_for_upload() == [trips[0]["trip_id"]]


def test_one_bad_record_does_not_cost_the_rest_of_the_flush(buffer):
    collector = _collector(buffer, idle_timeout_s=60, flush_interval_s=3600)
    replay(collector, synthetic_drive(10))  # flushed at the end: 10 records, one batch
    trip_id = collector.trip_id
    collector._pending = [
        {"ts": _ts("2025-11-04T08:00:20Z"), "rpm": 900.0},
        {"kind": "dtc", "ts": _ts("2025-11-04T08:00:21Z"), "code": "P01"},  # invalid code
        {"ts": _ts("2025-11-04T08:00:22Z"), "rpm": 950.0},
    ]
    collector.flush()
    assert collector.acked == 12 and collector.dropped == 1
    assert [r["seq"] for r in buffer.iter_records(trip_id)] == list(range(1, 13))
