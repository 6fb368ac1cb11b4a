"""Collector hooks: run off the sampling thread, failures contained, slow periodic hooks not piled up."""

from __future__ import annotations

import threading

from edge_collector.collector import Collector, CollectorConfig, HookRunner
from edge_collector.gps import GpsState
from edge_collector.replay import replay
from edge_collector.synthetic import synthetic_drive

from .conftest import VIN
from .nmea_pty import wait_for


def test_trip_ended_hooks_get_each_trip_and_a_failing_hook_is_contained(buffer):
    seen, threads = [], set()

    def boom(trip_id):
        raise RuntimeError("uploader crashed")

    def record(trip_id):
        seen.append((trip_id, buffer.trip(trip_id)["ended_at"]))
        threads.add(threading.current_thread().name)

    collector = Collector(buffer, CollectorConfig(vin=VIN, idle_timeout_s=60), gps=GpsState())
    collector.add_trip_ended_hook(boom)
    collector.add_trip_ended_hook(record)
    replay(collector, synthetic_drive(1200, stop_every=400))
    collector.end_current_trip("end of replay")
    collector.shutdown(0.0)  # joins the hook worker
    assert [trip_id for trip_id, _ in seen] == [t["trip_id"] for t in buffer.trips()]
    assert all(ended is not None for _, ended in seen)  # the end was committed before the hook ran
    assert threads == {"edge-hooks"}


def test_keyed_submit_does_not_pile_up_while_running():
    runner = HookRunner()
    release, calls = threading.Event(), []

    def slow():
        calls.append(1)
        release.wait(5)

    assert runner.submit(slow, key="upload")
    assert wait_for(lambda: calls == [1])
    assert not runner.submit(slow, key="upload")  # still running: skipped
    release.set()
    assert wait_for(lambda: runner.submit(slow, key="upload"))
    runner.stop()
    assert len(calls) == 2
