"""python-OBD behind a lock, with short read timeouts, our own VIN decode and reconnect backoff.

Why each workaround (see python-OBD 0.7.3 behaviour):
* python-OBD opens the port with a hard-coded 10 s timeout and retries empty
  reads ~11 times, so a silent adapter blocks ``query()`` for ~2 minutes; the
  port timeout is lowered right after connect.
* ``query()`` is not thread-safe; every call goes through one lock.
* It never reconnects: after an unplug the status stays ``Not Connected`` and
  every query returns null. ``ObdSource`` notices, closes, and reconnects with
  exponential backoff; the caller records the outage as a gap.
* Its VIN decoder strips the characters ``\\ x 0 1 2`` from both ends, so the
  VIN is decoded from the raw mode-09 message instead.
* An empty DTC list can mean ``NO DATA``; only real answers are reported.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from fleet_protocol import InvalidIdError, validate_vin

log = logging.getLogger(__name__)

DEFAULT_PIDS = ("SPEED", "RPM", "COOLANT_TEMP", "THROTTLE_POS", "FUEL_LEVEL", "ENGINE_LOAD", "HYBRID_BATTERY_REMAINING")

# PID name -> (event field, converter from the Pint magnitude). Others land in ``extra``.
FIELD_MAP: dict[str, tuple[str, Callable[[float], float]]] = {
    "SPEED": ("speed_kph", float),
    "RPM": ("rpm", float),
    "COOLANT_TEMP": ("coolant_c", float),
    "THROTTLE_POS": ("throttle_pos", lambda pct: min(max(float(pct) / 100.0, 0.0), 1.0)),  # wire: fraction
    "FUEL_LEVEL": ("fuel_level_pct", float),
    "HYBRID_BATTERY_REMAINING": ("soc_pct", float),
}


class ObdConnectError(Exception):
    """The adapter could not be opened or did not reach the car."""


@dataclass
class ObdSample:
    time: float
    values: dict = field(default_factory=dict)  # event fields
    extra: dict = field(default_factory=dict)  # other PIDs, by lower-case name

    @property
    def empty(self) -> bool:
        return all(v is None for v in self.values.values()) and not self.extra


@dataclass
class Backoff:
    initial_s: float = 1.0
    max_s: float = 60.0
    failures: int = 0
    next_at: float = 0.0

    def failed(self, now: float) -> float:
        delay = min(self.initial_s * 2 ** self.failures, self.max_s)
        self.failures += 1
        self.next_at = now + delay
        return delay

    def reset(self) -> None:
        self.failures, self.next_at = 0, 0.0


class ObdSource:
    """One ELM327 adapter. Construct cheaply; ``connect()`` does the slow (~4 s) handshake."""

    def __init__(
        self,
        port: str,
        *,
        baudrate: int | None = None,
        pids: Sequence[str] = DEFAULT_PIDS,
        read_timeout_s: float = 0.5,
        null_limit: int = 5,
        silent_after_s: float = 2.0,
        backoff: Backoff | None = None,
        fast: bool = False,
    ):
        import obd  # imported lazily: the CLI's --help must not pay for Pint

        self._obd = obd
        unknown = [name for name in pids if name not in obd.commands.__dict__]
        if unknown:
            raise ValueError(f"unknown OBD command name(s): {', '.join(unknown)} (see python-OBD's obd.commands)")
        self.port, self.baudrate, self.pids = port, baudrate, tuple(pids)
        self.read_timeout_s, self.null_limit, self.fast = read_timeout_s, null_limit, fast
        self.silent_after_s = silent_after_s
        self.backoff = backoff or Backoff()
        self._lock = threading.Lock()
        self._conn = None
        self._closed = False
        self._connect_thread: threading.Thread | None = None
        self._supported: list = []
        self._null_streak = 0
        self.vin: str | None = None
        self.last_status = "Not Connected"
        self.skipped_pids: list[str] = []

    # -- connection ----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._conn is not None

    def connect(self) -> bool:
        """Handshake; True when the car answers. On failure the port is closed again."""
        obd = self._obd
        kwargs = {"portstr": self.port, "fast": self.fast, "timeout": 2}
        if self.baudrate:
            kwargs["baudrate"] = self.baudrate
        conn = obd.OBD(**kwargs)  # slow handshake, outside the lock so close() never waits for it
        self.last_status = conn.status()
        if self.last_status != obd.OBDStatus.CAR_CONNECTED:
            conn.close()
            log.warning("OBD adapter on %s: %s", self.port, self.last_status)
            return False
        port = getattr(conn.interface, "_ELM327__port", None)
        if port is not None:
            port.timeout = self.read_timeout_s  # instead of the hard-coded 10 s
        # VIN and supported PIDs are read on the still-private connection, so the
        # sampler never sees a connected adapter without them (samples need the VIN).
        supported = [obd.commands[name] for name in self.pids if conn.supports(obd.commands[name])]
        skipped = [name for name in self.pids if not conn.supports(obd.commands[name])]
        vin = decode_vin_messages(conn.query(obd.commands.VIN).messages)
        if skipped:
            log.info("PIDs not supported by this car, skipped: %s", ", ".join(skipped))
        with self._lock:
            if self._closed:
                conn.close()
                return False
            self._supported, self.skipped_pids, self.vin = supported, skipped, vin
            self._null_streak = 0
            self._conn = conn
        self.backoff.reset()
        log.info("OBD connected on %s (%s), VIN %s", self.port, conn.protocol_name(), self.vin or "unknown")
        return True

    def try_reconnect(self, *, wait: bool = False) -> bool:
        """True if connected; otherwise start a background attempt when the backoff allows one.

        The handshake costs >= 4 s, and ~132 s on a port that opens but never
        answers, so it never runs on the sampling thread (GPS-only events go on
        meanwhile). ``wait=True`` blocks until the current attempt is over.
        """
        if self.connected:
            return True
        thread = self._connect_thread
        if thread is None or not thread.is_alive():
            if self._closed or time.monotonic() < self.backoff.next_at:
                return False
            thread = threading.Thread(target=self._attempt, name="obd-connect", daemon=True)
            self._connect_thread = thread
            thread.start()
        if wait:
            thread.join()
        return self.connected

    def _attempt(self) -> None:
        try:
            ok = self.connect()
        except Exception as exc:  # serial errors while opening: unplugged, permissions...
            log.warning("OBD connect on %s failed: %s", self.port, exc)
            ok = False
        if not ok:
            delay = self.backoff.failed(time.monotonic())
            log.info("next OBD connect attempt in %.0f s", delay)

    def mark_lost(self, reason: str) -> None:
        log.error("OBD adapter on %s lost: %s", self.port, reason)
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.close()
                except Exception:  # closing a dead port can raise; the connection is gone either way
                    pass
            self._conn = None
            self.last_status = "Not Connected"

    def close(self) -> None:
        with self._lock:
            self._closed = True  # a background attempt still running will discard its connection
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    # -- queries -------------------------------------------------------------------------------
    def query(self, cmd, **kwargs):
        with self._lock:
            if self._conn is None:
                return self._obd.OBDResponse()
            return self._conn.query(cmd, **kwargs)

    def sample(self, now: float | None = None) -> ObdSample | None:
        """Read the supported PIDs once; None when the adapter is (or just got) disconnected."""
        if self._conn is None:
            return None
        result = ObdSample(time=now if now is not None else time.time())
        for cmd in self._supported:
            began = time.monotonic()
            response = self.query(cmd)
            if response.is_null():
                if self._conn is not None and self._conn.status() == self._obd.OBDStatus.NOT_CONNECTED:
                    break  # unplugged mid-sample: the remaining queries would only log failures
                took = time.monotonic() - began
                if took >= self.silent_after_s:  # a live adapter says NO DATA within a fraction of a second
                    self.mark_lost(f"adapter stopped answering ({cmd.name} got no reply for {took:.1f} s)")
                    return None
            value = None if response.is_null() or response.value is None else _magnitude(response.value)
            target = FIELD_MAP.get(cmd.name)
            if target:
                result.values[target[0]] = None if value is None else target[1](value)
            elif value is not None:
                result.extra[cmd.name.lower()] = value
        if self._conn is not None and self._conn.status() == self._obd.OBDStatus.NOT_CONNECTED:
            self.mark_lost("status Not Connected (device disconnected)")
            return None
        self._null_streak = self._null_streak + 1 if result.empty else 0
        if self._null_streak >= self.null_limit:
            self.mark_lost(f"{self._null_streak} consecutive samples without any answer")
            return None
        return result

    def read_vin(self) -> str | None:
        response = self.query(self._obd.commands.VIN)
        return decode_vin_messages(response.messages)

    def read_dtcs(self) -> list[tuple[str, str, str]]:
        """Stored (mode 03) and pending (mode 07) DTCs as (code, description, status)."""
        found = []
        for cmd, status in ((self._obd.commands.GET_DTC, "stored"), (self._obd.commands.GET_CURRENT_DTC, "pending")):
            response = self.query(cmd)
            if response.is_null() or not _real_answer(response):
                continue
            for code, description in response.value or []:
                found.append((code, description or "", status))
        return found


def decode_vin_messages(messages) -> str | None:
    """VIN from the raw 09 02 answer (49 02 01 + 17 ASCII bytes); None if absent or invalid."""
    if not messages:
        return None
    data = bytes(messages[0].data)
    if len(data) < 20 or data[:2] != b"\x49\x02":
        return None
    text = data[3:20].decode("ascii", "replace")
    try:
        return validate_vin(text)
    except InvalidIdError:
        log.warning("adapter returned an invalid VIN %r", text)
        return None


def _magnitude(value) -> float | None:
    magnitude = getattr(value, "magnitude", value)  # never bool() a Pint temperature
    try:
        return float(magnitude)
    except (TypeError, ValueError):
        return None


def _real_answer(response) -> bool:
    # python-OBD turns "NO DATA" into value [] (not null); that proves nothing.
    raw = " ".join(m.raw() for m in response.messages).upper()
    return "NO DATA" not in raw and "ERROR" not in raw
