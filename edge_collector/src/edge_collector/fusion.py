"""Fuse one OBD sample with the latest GPS fix into a seed-004 event row (pure).

A reading outside the wire schema's bounds (a glitching receiver reporting
740 km/h, a bogus PID answer) must not reach ``EventBuffer.append``: it would
reject the whole flush batch. Such a value is nulled in the row and kept in
``extra`` as ``<field>_out_of_range`` (stored locally, never uploaded).
"""

from __future__ import annotations

from datetime import datetime, timezone

from edge_collector.gps import GpsFix
from edge_collector.validation import BOUNDS

OBD_FIELDS = ("speed_kph", "rpm", "coolant_c", "throttle_pos", "soc_pct", "fuel_level_pct")


def fuse(ts: float, obd_values: dict | None, fix: GpsFix | None, extra: dict | None = None) -> dict:
    """Event row for ``EventBuffer.append``: OBD speed wins (wheel speed), GPS speed fills in."""
    values = obd_values or {}
    extra = dict(extra or {})
    row = {"ts": datetime.fromtimestamp(ts, timezone.utc), "lat": None, "lon": None}
    for name in OBD_FIELDS:
        row[name] = _checked(name, values.get(name), extra)
    if fix is not None:
        row["lat"], row["lon"] = _checked("lat", fix.lat, extra), _checked("lon", fix.lon, extra)
        if row["speed_kph"] is None and fix.speed_kph is not None:
            row["speed_kph"] = _checked("speed_kph", max(0.0, fix.speed_kph), extra)
    if extra:
        row["extra"] = extra
    return row


def _checked(name: str, value: float | None, extra: dict) -> float | None:
    """``value`` if inside the wire bounds, else None (the raw value goes to ``extra``)."""
    lo, hi = BOUNDS[name]
    if value is None or lo <= value <= hi:  # NaN fails the range test
        return value
    extra[f"{name}_out_of_range"] = value
    return None
