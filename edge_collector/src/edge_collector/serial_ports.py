"""Opening serial ports with errors a person can act on, and the live GPS reader thread."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable

import serial

from edge_collector.gps import GpsState
from edge_collector.obd_reader import Backoff

log = logging.getLogger(__name__)


class PortError(Exception):
    """A serial port that cannot be used; the message says what to do."""


def open_port(port: str, label: str, *, baudrate: int = 9600, timeout: float = 1.0) -> serial.Serial:
    """Open ``port`` with an exclusive lock, translating failures into a clear ``PortError``."""
    try:
        return serial.Serial(port, baudrate, timeout=timeout, exclusive=True)
    except serial.SerialException as exc:
        raise PortError(describe_port_error(port, label, exc)) from None
    except (OSError, ValueError) as exc:
        raise PortError(describe_port_error(port, label, exc)) from None


def describe_port_error(port: str, label: str, exc: BaseException) -> str:
    text = str(exc)
    code = getattr(exc, "errno", None)
    if code == errno.ENOENT or "No such file" in text:
        return f"{label} port {port} does not exist: is the device plugged in? (see ls /dev/serial/by-id/)"
    if code == errno.EACCES or "Permission denied" in text:
        return f"{label} port {port}: permission denied (add the user to the 'dialout' group)"
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "lock" in text.lower() or "busy" in text.lower():
        return f"{label} port {port} is busy: another process holds it (another edge-collector or gpsd?)"
    return f"{label} port {port} cannot be opened: {text}"


class PortLock:
    """Holds an exclusive lock on the OBD port for the life of the collector.

    python-OBD opens the port without locking, so without this two collectors
    could talk to one adapter and corrupt each other's answers.
    """

    def __init__(self, port: str, label: str = "OBD"):
        self._serial = open_port(port, label, timeout=0)

    def release(self) -> None:
        self._serial.close()


class GpsSerialReader(threading.Thread):
    """Reads NMEA lines into a ``GpsState``; reopens the port with backoff after an unplug."""

    def __init__(self, port: str, state: GpsState, *, baudrate: int = 9600, clock: Callable[[], float] = time.time,
                 on_gap: Callable[[float, float, str], None] | None = None, backoff: Backoff | None = None):
        super().__init__(name="gps-reader", daemon=True)
        self.port, self.state, self.baudrate, self.clock = port, state, baudrate, clock
        self.on_gap = on_gap
        self.backoff = backoff or Backoff(initial_s=1.0, max_s=30.0)
        self.stop_event = threading.Event()
        self._serial: serial.Serial | None = None
        self.reopened = 0

    def open(self) -> None:
        """Open now (in the caller's thread) so a missing or busy port fails fast with PortError."""
        self._serial = open_port(self.port, "GPS", baudrate=self.baudrate)

    def run(self) -> None:
        lost_at = None
        while not self.stop_event.is_set():
            if self._serial is None:
                try:
                    self.open()
                except PortError as exc:
                    delay = self.backoff.failed(self.clock())
                    log.warning("%s; retrying in %.0f s", exc, delay)
                    self.stop_event.wait(delay)
                    continue
                self.backoff.reset()
                self.reopened += 1
                if lost_at is not None and self.on_gap:
                    self.on_gap(lost_at, self.clock(), f"GPS port {self.port} disconnected; reopened")
                lost_at = None
            try:
                line = self._serial.readline()
            except (serial.SerialException, OSError) as exc:
                log.error("GPS port %s lost: %s", self.port, exc)
                lost_at = self.clock()
                self._close()
                continue
            if line:
                self.state.feed_line(line, self.clock())
        self._close()

    def _close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None

    def stop(self, timeout: float = 3.0) -> None:
        self.stop_event.set()
        self.join(timeout)
