"""NMEA 0183 → latest GPS fix, with every bad line counted instead of raised.

pynmea2 is used with ``check=True`` because a truncated line without ``*HH``
otherwise parses "fine". No-fix sentences (void RMC, GGA quality 0, GSA fix
type 1) carry ``latitude == 0.0`` in pynmea2, so they clear the position
instead of setting it: a wrong position is worse than none.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone

import pynmea2

KNOTS_TO_KPH = 1.852


@dataclass(frozen=True)
class GpsFix:
    lat: float
    lon: float
    received_at: float  # collector clock (seconds), not the receiver's time
    speed_kph: float | None = None
    heading: float | None = None
    quality: int | None = None  # GGA gps_qual (1 GPS, 2 DGPS, ...)
    fix_type: str | None = None  # GSA: '2' 2D, '3' 3D
    gps_time: datetime | None = None


@dataclass
class GpsCounters:
    lines: int = 0
    sentences: Counter = field(default_factory=Counter)
    checksum_errors: int = 0
    parse_errors: int = 0
    unknown_sentences: int = 0
    garbage: int = 0
    resynced: int = 0
    no_fix: int = 0
    fixes: int = 0

    def as_dict(self) -> dict:
        data = asdict(self)
        data["sentences"] = dict(self.sentences)
        return data


@dataclass(frozen=True)
class ParsedLine:
    """One raw receiver line: its sentence, or the ``GpsCounters`` field that counts its rejection."""

    msg: pynmea2.NMEASentence | None = None  # None for a blank or rejected line
    rejected: str | None = None  # 'garbage', 'checksum_errors', 'unknown_sentences' or 'parse_errors'
    resynced: bool = False  # binary noise before the sentence was cut off

    @property
    def is_rmc(self) -> bool:
        return self.msg is not None and self.msg.sentence_type == "RMC"


def parse_line(line: str | bytes) -> ParsedLine:
    """Parse one line, cutting binary noise glued in front of a sentence at its last '$'.

    Shared by the live reader (``GpsState.feed_line``) and the replay clock, so
    both agree on which lines are sentences (a resynced RMC is an epoch too).
    """
    text = line.decode("ascii", "replace") if isinstance(line, bytes) else line
    text = text.strip()
    if not text:
        return ParsedLine()
    resynced = False
    if not text.startswith("$"):
        if "$" not in text:
            return ParsedLine(rejected="garbage")
        text, resynced = text[text.rfind("$"):], True
    try:
        return ParsedLine(pynmea2.parse(text, check=True), resynced=resynced)
    except pynmea2.ChecksumError:
        rejected = "checksum_errors"
    except pynmea2.SentenceTypeError:
        rejected = "unknown_sentences"
    except (pynmea2.ParseError, ValueError, TypeError):
        rejected = "parse_errors"
    return ParsedLine(rejected=rejected, resynced=resynced)


def rmc_utc(msg) -> float | None:
    """Receiver UTC time (epoch seconds) of a valid RMC with date and time, else None."""
    try:
        if msg.status == "A" and msg.datestamp and msg.timestamp:
            return msg.datetime.timestamp()
    except (ValueError, TypeError, AttributeError):
        return None
    return None


class GpsState:
    """Folds sentences into the current fix. Thread-safe: a reader thread feeds, the sampler reads."""

    def __init__(self) -> None:
        self.counters = GpsCounters()
        self._lock = threading.Lock()
        self._fix: GpsFix | None = None
        self._speed_kph: float | None = None
        self._heading: float | None = None
        self._fix_type: str | None = None
        self._date = None
        self.last_time: datetime | None = None  # latest receiver UTC time seen (for replay clocks)

    def feed_line(self, line: str | bytes, now: float) -> pynmea2.NMEASentence | None:
        """Parse one line at collector time ``now``; return the sentence, or None if it was skipped."""
        return self.feed(parse_line(line), now)

    def feed(self, parsed: ParsedLine, now: float) -> pynmea2.NMEASentence | None:
        """Count and apply an already parsed line; None if it was rejected (then the fix is unchanged)."""
        with self._lock:
            self.counters.lines += 1
            self.counters.resynced += parsed.resynced
            if parsed.rejected:
                setattr(self.counters, parsed.rejected, getattr(self.counters, parsed.rejected) + 1)
                return None
            msg = parsed.msg
            if msg is None:  # blank line
                return None
            try:
                self._apply(msg, now)
            except (ValueError, TypeError, AttributeError):  # a field pynmea2 could not convert
                self.counters.parse_errors += 1
                return None
            self.counters.sentences[msg.sentence_type] += 1
            return msg

    def _apply(self, msg, now: float) -> None:
        kind = msg.sentence_type
        if kind in ("RMC", "GGA") and not (msg.lat and msg.lon):
            self._lose_fix()  # "fix" with empty position fields: pynmea2 would report 0.0/0.0 (Null Island)
            return
        if kind == "RMC":
            if msg.status != "A":
                self._lose_fix()
                return
            # Every field is converted before any state changes: a rejected RMC leaves the fix as it was.
            gps_time = msg.datetime if msg.datestamp and msg.timestamp else None
            speed = float(msg.spd_over_grnd) * KNOTS_TO_KPH if msg.spd_over_grnd is not None else None
            heading = float(msg.true_course) if msg.true_course is not None else None
            lat, lon = _position(msg)
            self._date = msg.datestamp
            self._speed_kph, self._heading = speed, heading
            self._set_position(lat, lon, now, gps_time=gps_time)
        elif kind == "GGA":
            if not msg.gps_qual:
                self._lose_fix()
                return
            gps_time = None
            if self._date and msg.timestamp:
                gps_time = datetime.combine(self._date, msg.timestamp).replace(tzinfo=timezone.utc)
            self._set_position(*_position(msg), now, quality=int(msg.gps_qual), gps_time=gps_time)
        elif kind == "VTG":
            if getattr(msg, "faa_mode", None) == "N":
                return
            if msg.spd_over_grnd_kmph is not None:
                self._speed_kph = float(msg.spd_over_grnd_kmph)
            if msg.true_track is not None:
                self._heading = float(msg.true_track)
            if self._fix is not None:
                self._fix = replace(self._fix, speed_kph=self._speed_kph, heading=self._heading)
        elif kind == "GSA":
            self._fix_type = msg.mode_fix_type or None
            if self._fix_type == "1":
                self._lose_fix()
            elif self._fix is not None:
                self._fix = replace(self._fix, fix_type=self._fix_type)

    def _set_position(self, lat: float, lon: float, now, *, quality=None, gps_time=None) -> None:
        prev = self._fix
        if quality is None and prev is not None:
            quality = prev.quality
        if gps_time is None and prev is not None and prev.received_at == now:
            gps_time = prev.gps_time
        self._fix = GpsFix(lat, lon, now, self._speed_kph, self._heading, quality, self._fix_type, gps_time)
        if gps_time is not None:
            self.last_time = gps_time
        self.counters.fixes += 1

    def _lose_fix(self) -> None:
        self.counters.no_fix += 1
        self._fix = None

    def latest(self, now: float, max_age_s: float) -> GpsFix | None:
        """The current fix if it was received within ``max_age_s`` before ``now``."""
        with self._lock:
            fix = self._fix
        if fix is None or not 0 <= now - fix.received_at <= max_age_s:
            return None
        return fix

    def snapshot(self) -> dict:
        with self._lock:
            fix = self._fix
            counters = self.counters.as_dict()
        return {"fix": _fix_dict(fix), "counters": counters}


def _position(msg) -> tuple[float, float]:
    lat, lon = float(msg.latitude), float(msg.longitude)
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ValueError(f"position out of range: {lat}, {lon}")
    return lat, lon


def _fix_dict(fix: GpsFix | None) -> dict | None:
    if fix is None:
        return None
    data = asdict(fix)
    data["gps_time"] = fix.gps_time.isoformat() if fix.gps_time else None
    return data
