"""The Postgres ingest state as two replicas see it: two ``PostgresState`` objects = two connection pools."""

from __future__ import annotations

import threading
import time

import psycopg

from fleet_assets.ingest.state import PostgresState


def _payload(trip_id: str) -> dict:
    return {"trip_id": trip_id, "vin": "1FTFW1E50PFA00001", "days": ["2025-03-04"], "event_count": 3}


def test_log_commit_order_is_seq_order_and_a_rollback_leaves_no_gap(state_url):
    a, b = PostgresState(state_url), PostgresState(state_url)
    try:
        a.check()
        with psycopg.connect(state_url) as slow:  # a replica mid-append: number taken, not committed
            (seq,) = slow.execute("UPDATE ingest_completion_counter SET last_seq = last_seq + 1 RETURNING last_seq"
                                  ).fetchone()
            slow.execute("INSERT INTO ingest_completions (seq, trip_id, vin, days, event_count) "
                         "VALUES (%s, 'slow', 'v', ARRAY['2025-03-04'], 1)", (seq,))
            got = []
            other = threading.Thread(target=lambda: got.append(b.append_completion(_payload("fast"))))
            other.start()
            time.sleep(0.5)
            assert got == [] and b.read_completions(0) == []  # the second appender waits; readers see nothing yet
            slow.rollback()
        other.join(timeout=10)
        assert got == [1]  # the rolled-back number is reused: no gap
        assert [(m.seq, m.trip_id) for m in a.read_completions(0)] == [(1, "fast")]
        assert a.append_completion(_payload("fast")) == 1  # a retried completion keeps its number
        assert a.append_completion(_payload("next")) == 2 and [m.seq for m in b.read_completions(1)] == [2]
    finally:
        a.close()
        b.close()


def test_trip_lock_is_held_across_replicas_and_released_when_one_dies(state_url):
    a, b = PostgresState(state_url), PostgresState(state_url)
    try:
        order = []
        with a.trip_lock("trip-1"):
            waiter = threading.Thread(target=lambda: (b.trip_lock("trip-1").__enter__(), order.append("b")))
            waiter.start()
            with b.trip_lock("trip-2"):  # another trip is not blocked
                order.append("b-other")
            time.sleep(0.3)
            order.append("a-done")
        waiter.join(timeout=10)
        assert order == ["b-other", "a-done", "b"]
        b.close()  # b still holds trip-1 on a pooled connection... which dies with its replica:
        with psycopg.connect(state_url, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                         "AND pid <> pg_backend_pid()")
        done = threading.Event()
        threading.Thread(target=lambda: (a.trip_lock("trip-1").__enter__(), done.set()), daemon=True).start()
        assert done.wait(timeout=10)
    finally:
        a.close()
        b.close()
