"""Fast path for validating buffered event rows; pydantic's ``EdgeEvent`` stays the authority.

Constructing an ``EdgeEvent`` per row (re-checking the trip's VIN and UUID
every time) costs ~11 µs, a fifth of the 50k events/s budget. Rows whose
values are plainly valid — UTC datetime, floats/ints inside the bounds read
from ``EdgeEvent``'s own field constraints — are accepted here in ~2 µs;
anything else (strings to coerce, out-of-range, unknown keys) goes through
``EdgeEvent`` so the accept/reject decision and the error message are pydantic's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fleet_protocol import EdgeEvent

EVENT_FIELDS = ("lat", "lon", "speed_kph", "rpm", "coolant_c", "throttle_pos", "soc_pct", "fuel_level_pct")
_ALLOWED = frozenset(("ts", *EVENT_FIELDS))
_ZERO = timedelta(0)


def _bounds(name: str) -> tuple[float, float]:
    lo, hi = float("-inf"), float("inf")
    for constraint in EdgeEvent.model_fields[name].metadata:
        lo = getattr(constraint, "ge", lo)
        hi = getattr(constraint, "le", hi)
    return lo, hi


_BOUNDS = tuple((name, *_bounds(name)) for name in EVENT_FIELDS)
BOUNDS: dict[str, tuple[float, float]] = {name: (lo, hi) for name, lo, hi in _BOUNDS}


def utc_text(ts: datetime) -> str:
    """Same text as ``fleet_protocol.events.format_ts`` for a datetime whose UTC offset is zero."""
    return ts.replace(tzinfo=None).isoformat() + "Z"


def fast_event_values(data: dict) -> tuple | None:
    """``(ts_text, lat, lon, ...)`` if the row is plainly valid, else None (ask ``EdgeEvent``)."""
    ts = data.get("ts")
    if type(ts) is not datetime or ts.utcoffset() != _ZERO or ts.year < 1000 or not _ALLOWED.issuperset(data):
        return None
    values = [utc_text(ts)]
    for name, lo, hi in _BOUNDS:
        value = data.get(name)
        if value is not None:
            kind = type(value)
            if (kind is not float and kind is not int) or not lo <= value <= hi:
                return None
            value = float(value)
        values.append(value)
    return tuple(values)
