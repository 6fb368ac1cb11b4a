"""The sampling loop: OBD + GPS → fused events → trip detection → batched buffer writes.

One thread owns the loop (and so the OBD adapter); GPS arrives from its own
reader thread through ``GpsState``. Records are batched in memory and flushed
every ``flush_interval_s``: a record counts as acknowledged only after the
flush committed it, so a power cut loses at most one flush interval of
*unacknowledged* samples. Hooks (e.g. the uploader) run on a separate worker
thread so a slow network never stalls sampling.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from edge_collector.buffer import BadRecordError, BufferFullError, EventBuffer, EventBufferError
from edge_collector.fusion import fuse
from edge_collector.gps import GpsState
from edge_collector.obd_reader import ObdSource
from edge_collector.status import write_status
from edge_collector.trips import Decision, TripDetector

log = logging.getLogger(__name__)

CLOCK_OFFSET_WARN_S = 120.0  # beyond receiver latency and serial buffering: the system clock is wrong


@dataclass
class CollectorConfig:
    sample_hz: float = 1.0
    idle_timeout_s: float = 120.0
    min_moving_kph: float = 3.0
    gps_max_age_s: float = 3.0
    dtc_interval_s: float = 300.0
    flush_interval_s: float = 1.0
    flush_max_records: int = 500
    vin: str | None = None  # used when the car does not report a VIN
    status_path: Path | None = None
    status_interval_s: float = 1.0

    def __post_init__(self) -> None:
        for name in ("sample_hz", "idle_timeout_s", "gps_max_age_s", "dtc_interval_s", "flush_interval_s"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


class HookRunner:
    """Runs hooks one at a time on a daemon worker; a failing hook is logged, never fatal."""

    def __init__(self) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._queued_keys: set = set()
        self._keys_lock = threading.Lock()
        self._thread = threading.Thread(target=self._work, name="edge-hooks", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable, *args, key=None) -> bool:
        """Queue ``fn(*args)``; with ``key``, not again while the previous one is still queued or running."""
        if key is not None:
            with self._keys_lock:
                if key in self._queued_keys:
                    return False
                self._queued_keys.add(key)
        self._queue.put((fn, args, key))
        return True

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            fn, args, key = item
            try:
                fn(*args)
            except Exception:
                log.exception("hook %s failed", getattr(fn, "__name__", fn))
            finally:
                with self._keys_lock:
                    self._queued_keys.discard(key)
                self._queue.task_done()

    def stop(self, timeout: float = 30.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)


class Collector:
    def __init__(self, buffer: EventBuffer, config: CollectorConfig | None = None, *,
                 obd: ObdSource | None = None, gps: GpsState | None = None):
        self.buffer, self.config, self.obd, self.gps = buffer, config or CollectorConfig(), obd, gps
        self.detector = TripDetector(idle_timeout_s=self.config.idle_timeout_s,
                                     min_moving_kph=self.config.min_moving_kph)
        self.trip_id: str | None = None
        self.trip_ended_hooks: list[Callable[[str], None]] = []
        self.periodic_hooks: list[list] = []  # [interval_s, fn, next_due]
        self._hooks: HookRunner | None = None
        self._pending: list[dict] = []
        self._last_flush = 0.0
        self._next_dtc = 0.0
        self._dtcs_seen: set[tuple[str, str]] = set()
        self._obd_lost_at: float | None = None
        self._obd_lost_trip: str | None = None
        self._next_status = 0.0
        self.last_sample: dict | None = None
        self.acked = 0
        self.dropped = 0
        self._flush_error: str | None = None
        self._trip_refused: str | None = None  # last reason a trip could not start (logged once per reason)
        self._status_error: str | None = None  # last status-file write error (logged once per error)
        self._offset_trip: str | None = None  # trip whose clock offset against GPS time is already recorded
        self.clock_offset_s: float | None = None  # GPS UTC minus the collector clock, at the last check

    # -- hooks ---------------------------------------------------------------------------------
    def add_trip_ended_hook(self, fn: Callable[[str], None]) -> None:
        """``fn(trip_id)`` runs on the hook worker after a trip's end is committed."""
        self.trip_ended_hooks.append(fn)

    def add_periodic_hook(self, interval_s: float, fn: Callable[[], None]) -> None:
        """``fn()`` runs on the hook worker every ``interval_s`` (e.g. retry pending uploads)."""
        self.periodic_hooks.append([interval_s, fn, 0.0])

    def _submit(self, fn, *args, key=None) -> None:
        if self._hooks is None:
            self._hooks = HookRunner()
        self._hooks.submit(fn, *args, key=key)

    # -- lifecycle -----------------------------------------------------------------------------
    def resume(self, now: float) -> None:
        """After a restart: continue the open trip if it is recent, else end it at its last record."""
        open_trip = self.buffer.open_trip()
        if open_trip is None:
            return
        last = open_trip["last_ts"] or open_trip["started_at"]
        last_ts = datetime.fromisoformat(last.replace("Z", "+00:00")).timestamp()
        if 0 <= now - last_ts < self.config.idle_timeout_s:
            self.trip_id = open_trip["trip_id"]
            self.detector.resume(last_ts)
            log.info("resuming trip %s at seq %d", self.trip_id, open_trip["next_seq"])
        else:
            self.trip_id = open_trip["trip_id"]
            self._end_trip(last_ts, reason="found open after restart")

    def run(self, stop: threading.Event, *, clock: Callable[[], float] = time.time) -> None:
        """Sample at ``sample_hz`` until ``stop`` is set; always flushes before returning."""
        period = 1.0 / self.config.sample_hz
        self.resume(clock())
        next_at = clock()
        try:
            while not stop.is_set():
                self.step(clock())
                next_at += period
                delay = next_at - clock()
                if delay < 0:
                    next_at = clock()  # fell behind (slow reconnect): do not burst to catch up
                stop.wait(max(delay, 0.0))
        finally:
            self.shutdown(clock())

    def shutdown(self, now: float | None) -> None:
        """Flush, write the final status (``now`` None: no clock time was ever seen) and stop the hook worker."""
        self.flush()
        self.write_status(now, force=True, state="stopped")
        if self._hooks is not None:
            self._hooks.stop()
            self._hooks = None

    # -- one sample ----------------------------------------------------------------------------
    def step(self, now: float) -> None:
        sample = self._sample_obd(now)
        fix = self.gps.latest(now, self.config.gps_max_age_s) if self.gps else None
        rpm = sample.values.get("rpm") if sample else None
        speed = sample.values.get("speed_kph") if sample else None
        if speed is None and fix is not None:
            speed = fix.speed_kph
        if sample is None and fix is None:
            decision = self.detector.check_timeout(now)
        else:
            decision = self.detector.observe(now, rpm, speed)
        self._apply(decision, now, sample, fix)
        if fix is not None and fix.gps_time is not None and self.trip_id not in (None, self._offset_trip):
            self._note_clock_offset(fix)
        # Flush on wall time, not sample time: the power-cut window is real seconds, also in a fast replay.
        wall = time.monotonic()
        if wall - self._last_flush >= self.config.flush_interval_s or len(self._pending) >= self.config.flush_max_records:
            self.flush()
            self._last_flush = wall
        for hook in self.periodic_hooks:
            if now >= hook[2]:
                hook[2] = now + hook[0]
                self._submit(hook[1], key=id(hook))  # a slow upload is not queued up again and again
        self.write_status(now)

    def _sample_obd(self, now: float):
        if self.obd is None:
            return None
        if not self.obd.connected and not self.obd.try_reconnect():
            return None  # a background attempt is running or the backoff is waiting
        self._record_obd_gap(now)  # back after an outage (no-op otherwise)
        sample = self.obd.sample(now)
        if sample is None:  # lost just now; the gap is recorded once the adapter is back
            self._obd_lost_at, self._obd_lost_trip = now, self.trip_id
        return sample

    def _record_obd_gap(self, now: float) -> None:
        if self._obd_lost_at is None:
            return  # first connection, not a reconnection
        started, self._obd_lost_at = self._obd_lost_at, None
        self.note_gap("obd", started, now, f"adapter {self.obd.port} disconnected; reconnected",
                      trip_id=self._obd_lost_trip)

    def note_gap(self, source: str, started: float, ended: float | None, reason: str, *,
                 trip_id: str | None = None) -> None:
        """Record an outage against the trip open when it began (thread-safe; the GPS reader calls it too)."""
        try:
            self.buffer.record_gap(source, _utc(started), _utc(ended) if ended else None, reason,
                                   trip_id=trip_id or self.trip_id)
        except EventBufferError:
            log.exception("could not record %s gap", source)
        log.warning("%s gap %.1f s recorded: %s", source, (ended or started) - started, reason)

    def _apply(self, decision: Decision, now: float, sample, fix) -> None:
        if decision.end_trip and self.trip_id is not None:
            self._end_trip(decision.ended_at, reason=decision.reason)
        if decision.start_trip and not self._start_trip(now):
            return
        if decision.record and self.trip_id is not None and (sample is not None or fix is not None):
            row = fuse(now, sample.values if sample else None, fix, sample.extra if sample else None)
            self._pending.append(row)
            self.last_sample = row
            if self.obd is not None and self.obd.connected and now >= self._next_dtc:
                self._next_dtc = now + self.config.dtc_interval_s
                self._read_dtcs(now)

    def _note_clock_offset(self, fix) -> None:
        """Record, once per trip, how far the collector clock is from GPS time.

        A Pi has no RTC: until NTP syncs, its clock can be hours off, and every
        ``ts`` of the trip with it. The offset in the trip meta (and the status
        file) lets the skew be seen and corrected later; the data are not altered.
        """
        offset = round(fix.gps_time.timestamp() - fix.received_at, 1)
        self._offset_trip, self.clock_offset_s = self.trip_id, offset
        try:
            self.buffer.update_trip_meta(self.trip_id, clock_offset_s=offset)
        except EventBufferError as exc:
            log.warning("could not record the clock offset of trip %s: %s", self.trip_id, exc)
        if abs(offset) > CLOCK_OFFSET_WARN_S:
            log.warning("system clock is %.0f s off GPS time; trip %s is stamped with the system clock "
                        "(offset kept in its meta as clock_offset_s)", offset, self.trip_id)

    def _start_trip(self, now: float) -> bool:
        vin = (self.obd.vin if self.obd is not None else None) or self.config.vin
        try:
            if vin is None:
                raise EventBufferError("the car reports no VIN and none is configured (--vin)")
            self.trip_id = self.buffer.start_trip(vin, _utc(now), meta={"vin_source": "obd" if self.obd and self.obd.vin else "config"})
        except EventBufferError as exc:
            # The sample that should have opened the trip is lost: count it, and log on change, not per sample.
            self.dropped += 1
            if str(exc) != self._trip_refused:
                log.error("trip not started (sample dropped; retried with every active sample): %s", exc)
                self._trip_refused = str(exc)
            self.detector.in_trip = False
            return False
        self._trip_refused = None
        self._dtcs_seen.clear()
        self._next_dtc = now  # stored DTCs are read at trip start
        return True

    def _read_dtcs(self, now: float) -> None:
        for code, description, status in self.obd.read_dtcs():
            if (code, status) in self._dtcs_seen:
                continue
            self._dtcs_seen.add((code, status))
            self._pending.append({"kind": "dtc", "ts": _utc(now), "code": code,
                                  "description": description, "status": status})

    def end_current_trip(self, reason: str) -> None:
        """End the open trip at its last sample (end of a replay, operator request)."""
        if self.trip_id is not None:
            self.detector.in_trip = False
            self._end_trip(self.detector.last_ts, reason=reason)

    def _end_trip(self, ended_at: float, *, reason: str) -> None:
        self.flush()
        trip_id, self.trip_id = self.trip_id, None
        try:
            if self.buffer.discard_empty_trip(trip_id):  # e.g. killed before its first flush
                return
            self.buffer.end_trip(trip_id, _utc(ended_at))
            self.buffer.update_trip_meta(trip_id, end_reason=reason)
        except EventBufferError:
            log.exception("could not end trip %s", trip_id)
            return
        for hook in self.trip_ended_hooks:
            self._submit(hook, trip_id)

    def flush(self) -> None:
        if not self._pending or self.trip_id is None:
            self._pending.clear()
            return
        batch, self._pending = self._pending, []
        try:
            self.acked += len(self.buffer.append(self.trip_id, batch))
        except BufferFullError:
            self.dropped += len(batch)  # already logged loudly by the buffer; nothing was written
        except BadRecordError as exc:
            # One bad record rejects the whole batch; keep the good ones rather than lose a second of data.
            log.error("flush rejected (%s); storing its %d records one by one", exc, len(batch))
            for record in batch:
                try:
                    self.acked += len(self.buffer.append(self.trip_id, [record]))
                except EventBufferError as single:
                    self.dropped += 1
                    log.error("record dropped: %s", single)
        except EventBufferError as exc:  # storage failure (I/O error...): log on change, not every second
            self.dropped += len(batch)
            if str(exc) != self._flush_error:
                log.error("%d records not stored (further identical failures are only counted): %s", len(batch), exc)
                self._flush_error = str(exc)
            return
        self._flush_error = None

    # -- status --------------------------------------------------------------------------------
    def write_status(self, now: float | None, *, force: bool = False, state: str | None = None) -> None:
        path = self.config.status_path
        if path is None or (not force and (now is None or now < self._next_status)):
            return
        if now is not None:
            self._next_status = now + self.config.status_interval_s
        obd = None
        if self.obd is not None:
            obd = {"port": self.obd.port, "connected": self.obd.connected, "status": self.obd.last_status,
                   "vin": self.obd.vin, "skipped_pids": self.obd.skipped_pids}
        last = dict(self.last_sample) if self.last_sample else None
        if last:
            last["ts"] = last["ts"].isoformat()
        try:
            write_status(path, {
                "state": state or ("in trip" if self.trip_id else "idle"),
                "updated_at": _utc(now).isoformat() if now is not None else None,
                "trip_id": self.trip_id,
                "clock_offset_s": self.clock_offset_s,
                "acked_records": self.acked,
                "dropped_records": self.dropped,
                "last_sample": last,
                "obd": obd,
                "gps": self.gps.snapshot() if self.gps else None,
            })
        except OSError as exc:  # the status file is a convenience: never stop collecting because of it
            if str(exc) != self._status_error:
                log.warning("cannot write status file %s (collection continues): %s", path, exc)
                self._status_error = str(exc)
        else:
            self._status_error = None
