"""upload_ready_trips with the collector's real SQLite buffer and cut_trip: marks only confirmed trips."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from edge_collector.buffer import EventBuffer
from edge_collector.upload import IngestClient, RetryPolicy, upload_ready_trips

from .conftest import KEY, VIN

FAST = RetryPolicy(attempts=3, initial_wait_s=0.02, max_wait_s=0.05, max_total_s=5)


def _trip(buffer: EventBuffer, start: datetime, n: int) -> str:
    trip_id = buffer.start_trip(VIN, start)
    buffer.append(trip_id, [{"ts": start + timedelta(seconds=i), "lat": 49.0 + i * 1e-5, "lon": 8.0,
                             "speed_kph": float(i % 80), "rpm": 900.0 + i} for i in range(n)]
                  + [{"kind": "dtc", "ts": start + timedelta(seconds=n), "code": "P0420", "status": "pending"}])
    buffer.end_trip(trip_id, start + timedelta(seconds=n))
    return trip_id


def test_rejected_then_accepted(server, tmp_path):
    start = datetime(2025, 3, 4, 9, tzinfo=timezone.utc)
    with EventBuffer(tmp_path / "buffer.db") as buffer:
        first = _trip(buffer, start, 2000)  # > 900 records: several chunks
        second = _trip(buffer, start + timedelta(hours=2), 10)
        work = tmp_path / "work"

        with IngestClient(server.url, "not-my-key") as client:
            failed = upload_ready_trips(buffer, client, work, retry=FAST)
        assert [r.error is not None and "401" in r.error for r in failed] == [True, True]
        assert buffer.trips_ready_for_upload() == [first, second]  # nothing marked
        assert buffer.upload_state(first)["attempts"] == 1 and "unknown API key" in buffer.upload_state(first)["last_error"]

        lines: list[str] = []
        with IngestClient(server.url, KEY) as client:
            done = upload_ready_trips(buffer, client, work, retry=FAST, progress=lines.append)
        assert [(r.trip_id, r.complete, r.chunks_sent) for r in done] == [(first, True, 3), (second, True, 1)]
        assert buffer.trips_ready_for_upload() == []
        assert buffer.upload_state(first)["uploaded_at"] is not None and buffer.upload_state(first)["last_error"] is None
        assert not (work / first).exists()  # derived chunk files cleaned up after confirmation
        assert len(list((server.landing / "completed").glob("0*.json"))) == 2
        assert any("chunk 3/3" in line for line in lines)


def test_server_gone_leaves_trip_pending(server, tmp_path):
    with EventBuffer(tmp_path / "buffer.db") as buffer:
        trip_id = _trip(buffer, datetime(2025, 3, 4, 9, tzinfo=timezone.utc), 50)
        server.kill()
        with IngestClient(server.url, KEY, timeout=2) as client:
            results = upload_ready_trips(buffer, client, tmp_path / "work", retry=FAST)
        assert results[0].complete is False and "ConnectError" in results[0].error
        assert buffer.trips_ready_for_upload() == [trip_id]
        assert buffer.upload_state(trip_id)["uploaded_at"] is None
