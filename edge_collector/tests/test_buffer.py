"""EventBuffer: seq assignment, restart, validation, trip states, upload state, disk budget."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

import pytest

from edge_collector.buffer import BadRecordError, BufferFullError, EventBuffer, TripStateError

from .conftest import T0, VIN, sample_rows


def _count(path, table="events"):
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def test_seq_strictly_increasing_across_events_and_dtcs(buffer):
    trip = buffer.start_trip(VIN, T0)
    assert buffer.append(trip, sample_rows(3)) == [1, 2, 3]
    assert buffer.append(trip, [{"kind": "dtc", "ts": T0, "code": "P0143", "description": "O2"}]) == [4]
    assert buffer.append(trip, sample_rows(2, 3)) == [5, 6]
    assert [r["seq"] for r in buffer.iter_records(trip, batch_size=2)] == [1, 2, 3, 4, 5, 6]
    assert [r["kind"] for r in buffer.iter_records(trip)] == ["event"] * 3 + ["dtc"] + ["event"] * 2


def test_durability_pragmas(buffer):
    assert buffer._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert buffer._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_seq_continues_after_restart(tmp_path):
    path = tmp_path / "b.db"
    with EventBuffer(path) as buf:
        trip = buf.start_trip(VIN, T0)
        buf.append(trip, sample_rows(5))
    with EventBuffer(path) as buf:
        open_trip = buf.open_trip()
        assert open_trip["trip_id"] == trip and open_trip["next_seq"] == 6
        assert buf.append(trip, sample_rows(2, 5)) == [6, 7]


def test_lat_lon_nullable_before_first_fix(buffer):
    trip = buffer.start_trip(VIN, T0)
    buffer.append(trip, sample_rows(1, with_fix=False))
    record = next(buffer.iter_records(trip))
    assert record["lat"] is None and record["lon"] is None


def test_bad_record_rejects_whole_batch(buffer):
    trip = buffer.start_trip(VIN, T0)
    buffer.append(trip, sample_rows(2))
    rows = sample_rows(3, 2)
    rows[1]["throttle_pos"] = 32.0  # percent instead of fraction
    with pytest.raises(BadRecordError, match=r"record 1 of the batch rejected, nothing stored: throttle_pos"):
        buffer.append(trip, rows)
    assert _count(buffer.path) == 2
    assert buffer.append(trip, sample_rows(1, 2)) == [3]  # no seq was burnt


@pytest.mark.parametrize(
    "record, message",
    [
        ({"ts": T0.replace(tzinfo=None)}, "ts must carry a timezone"),
        ({"ts": T0, "lat": 91.0}, "lat"),
        ({"ts": T0, "bogus": 1}, "bogus"),
        ({"kind": "dtc", "ts": T0, "code": "X123"}, "code"),
        ({"kind": "nope", "ts": T0}, "unknown kind 'nope'"),
    ],
)
def test_bad_inputs_clear_error_nothing_written(buffer, record, message):
    trip = buffer.start_trip(VIN, T0)
    with pytest.raises(BadRecordError, match=message):
        buffer.append(trip, [record])
    assert _count(buffer.path) == 0 and _count(buffer.path, "dtcs") == 0


def test_bad_vin_refuses_trip(buffer):
    with pytest.raises(BadRecordError, match="vin must be 17 characters"):
        buffer.start_trip("WP0ZZZ99ZTS39", T0)  # the python-OBD truncated VIN
    assert _count(buffer.path, "trips") == 0


def test_trip_states(buffer):
    trip = buffer.start_trip(VIN, T0)
    with pytest.raises(TripStateError, match="still open"):
        buffer.start_trip(VIN, T0)
    with pytest.raises(TripStateError, match="still open"):
        buffer.mark_trip_uploaded(trip)
    buffer.append(trip, sample_rows(1))
    buffer.end_trip(trip, T0 + timedelta(minutes=5))
    with pytest.raises(TripStateError, match="has ended"):
        buffer.append(trip, sample_rows(1, 1))
    with pytest.raises(TripStateError, match="already ended"):
        buffer.end_trip(trip, T0)
    with pytest.raises(TripStateError, match="unknown trip"):
        buffer.trip_vin("00000000-0000-4000-8000-000000000000")
    assert _count(buffer.path) == 1


def test_upload_state(buffer):
    trips = []
    for k in range(3):
        trip = buffer.start_trip(VIN, T0 + timedelta(hours=k))
        buffer.append(trip, sample_rows(2, k * 10))
        buffer.end_trip(trip, T0 + timedelta(hours=k, minutes=30))
        trips.append(trip)
    open_trip = buffer.start_trip(VIN, T0 + timedelta(hours=5))
    assert buffer.trips_ready_for_upload() == trips
    assert open_trip not in buffer.trips_ready_for_upload()
    buffer.record_upload_attempt(trips[0], "HTTP 503")
    buffer.record_upload_attempt(trips[0], None)
    state = buffer.upload_state(trips[0])
    assert state["attempts"] == 2 and state["last_error"] is None and state["uploaded_at"] is None
    buffer.mark_trip_uploaded(trips[0])
    buffer.mark_trip_uploaded(trips[0])  # idempotent
    assert buffer.trips_ready_for_upload() == trips[1:]
    assert buffer.trip_vin(trips[1]) == VIN
    assert buffer.record_count(trips[0]) == 2  # confirmed, but only pruned when space is needed


def test_disk_budget_prunes_uploaded_first_then_refuses(tmp_path):
    path = tmp_path / "b.db"
    with EventBuffer(path) as buf:
        first = buf.start_trip(VIN, T0)
        for k in range(10):
            buf.append(first, sample_rows(500, k * 500))
        buf.end_trip(first, T0 + timedelta(hours=2))
        used = buf.used_bytes()
    with EventBuffer(path, max_bytes=int(used / 0.8)) as buf:
        second = buf.start_trip(VIN, T0 + timedelta(hours=3))
        with pytest.raises(BufferFullError, match="not yet confirmed by the server"):
            for k in range(100):
                buf.append(second, sample_rows(500, k * 500))
        stored = buf.record_count(second)
        assert stored > 0 and buf.record_count(first) == 5000  # unconfirmed data is never dropped
        buf.mark_trip_uploaded(first)
        assert buf.append(second, sample_rows(500, stored)) == list(range(stored + 1, stored + 501))
        assert buf.record_count(first) == 0 and buf.upload_state(first)["pruned_at"] is not None
        assert buf.record_count(second) == stored + 500


def test_gaps_recorded(buffer):
    trip = buffer.start_trip(VIN, T0)
    buffer.record_gap("obd", T0, T0 + timedelta(seconds=7), "adapter not connected", trip_id=trip)
    [gap] = buffer.gaps(trip)
    assert gap["source"] == "obd" and gap["ended_at"] == "2025-11-04T11:53:19Z"


def test_discard_empty_trip_only_when_empty(buffer):
    trip = buffer.start_trip(VIN, T0)
    buffer.append(trip, sample_rows(1))
    assert buffer.discard_empty_trip(trip) is False and buffer.record_count(trip) == 1
    buffer.end_trip(trip, T0 + timedelta(minutes=1))
    empty = buffer.start_trip(VIN, T0 + timedelta(hours=1))
    assert buffer.discard_empty_trip(empty) is True
    assert [t["trip_id"] for t in buffer.trips()] == [trip] and buffer.open_trip() is None
