"""Trip detection as a pure state machine (no I/O), so it is testable sample by sample.

A trip starts on the first *active* sample (engine running: rpm > 0, or moving
faster than ``min_moving_kph``) and ends once no active sample was seen for
``idle_timeout_s``. A clock jump (backwards, or forwards by more than the idle
timeout — e.g. spliced logs or a GPS time correction) also ends the trip:
timestamps inside one trip stay monotonic.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    end_trip: bool = False  # close the open trip (at ``ended_at``) before handling this sample
    ended_at: float | None = None
    start_trip: bool = False  # open a new trip with this sample
    record: bool = False  # store this sample in the (now) open trip
    reason: str | None = None  # why the trip ended


class TripDetector:
    def __init__(self, *, idle_timeout_s: float = 120.0, min_moving_kph: float = 3.0):
        if idle_timeout_s <= 0:
            raise ValueError("idle_timeout_s must be positive")
        self.idle_timeout_s = idle_timeout_s
        self.min_moving_kph = min_moving_kph
        self.in_trip = False
        self.last_active: float | None = None
        self.last_ts: float | None = None

    def resume(self, last_ts: float) -> None:
        """Continue an open trip found in the buffer after a restart."""
        self.in_trip, self.last_active, self.last_ts = True, last_ts, last_ts

    def is_active(self, rpm: float | None, speed_kph: float | None) -> bool:
        return (rpm is not None and rpm > 0) or (speed_kph is not None and speed_kph >= self.min_moving_kph)

    def observe(self, ts: float, rpm: float | None, speed_kph: float | None) -> Decision:
        active = self.is_active(rpm, speed_kph)
        end, ended_at, reason = False, None, None
        if self.in_trip:
            jumped = ts < self.last_ts or ts - self.last_ts > self.idle_timeout_s
            if jumped or (not active and ts - self.last_active >= self.idle_timeout_s):
                end, ended_at, reason = True, self.last_ts, "clock jump" if jumped else "idle timeout"
                self.in_trip = False
        if self.in_trip:
            if active:
                self.last_active = ts
            self.last_ts = ts
            return Decision(record=True)
        if active:
            self.in_trip, self.last_active, self.last_ts = True, ts, ts
            return Decision(end, ended_at, start_trip=True, record=True, reason=reason)
        return Decision(end, ended_at, reason=reason)

    def check_timeout(self, now: float) -> Decision:
        """End the trip when no sample at all arrives (adapter gone, GPS silent)."""
        if self.in_trip and now - self.last_active >= self.idle_timeout_s:
            self.in_trip = False
            return Decision(end_trip=True, ended_at=self.last_ts, reason="no samples (idle timeout)")
        return Decision()
