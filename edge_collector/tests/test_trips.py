"""TripDetector state machine, sample by sample."""

from __future__ import annotations

import pytest

from edge_collector.trips import TripDetector


def test_starts_on_engine_or_motion_not_when_parked():
    d = TripDetector(idle_timeout_s=60)
    assert not d.observe(0, rpm=0, speed_kph=0).start_trip
    assert not d.observe(1, rpm=None, speed_kph=1.0).start_trip  # GPS jitter while parked
    assert d.observe(2, rpm=750, speed_kph=None).start_trip
    d2 = TripDetector(idle_timeout_s=60)
    assert d2.observe(0, rpm=None, speed_kph=12.0).start_trip  # GPS-only: motion starts a trip


def test_ends_after_idle_timeout_at_last_sample():
    d = TripDetector(idle_timeout_s=60)
    d.observe(0, 800, 10)
    for t in range(1, 60):
        decision = d.observe(t, 0, 0)  # ignition off: still recorded until the timeout
        assert decision.record and not decision.end_trip
    decision = d.observe(60, 0, 0)
    assert decision.end_trip and decision.ended_at == 59 and decision.reason == "idle timeout"
    assert not decision.record and not d.in_trip


def test_activity_resets_idle_timer():
    d = TripDetector(idle_timeout_s=10)
    d.observe(0, 800, 0)
    d.observe(9, 0, 0)
    d.observe(9.5, 900, 0)
    assert not d.observe(18, 0, 0).end_trip
    assert d.observe(19.5, 0, 0).end_trip


@pytest.mark.parametrize("jump_to, reason", [(50.0, "clock jump"), (1000.0, "clock jump")])
def test_clock_jump_splits_trip(jump_to, reason):
    d = TripDetector(idle_timeout_s=120)
    d.observe(100, 800, 30)
    d.observe(101, 800, 30)
    decision = d.observe(jump_to if jump_to < 100 else 101 + jump_to, 800, 30)
    assert decision.end_trip and decision.ended_at == 101 and decision.reason == reason
    assert decision.start_trip and decision.record


def test_check_timeout_without_samples_and_resume():
    d = TripDetector(idle_timeout_s=30)
    d.resume(1000)
    assert d.in_trip and not d.check_timeout(1029).end_trip
    decision = d.check_timeout(1030)
    assert decision.end_trip and decision.ended_at == 1000


def test_rejects_bad_timeout():
    with pytest.raises(ValueError, match="idle_timeout_s must be positive"):
        TripDetector(idle_timeout_s=0)
