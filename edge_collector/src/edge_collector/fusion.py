"""Fuse one OBD sample with the latest GPS fix into a seed-004 event row (pure)."""

from __future__ import annotations

from datetime import datetime, timezone

from edge_collector.gps import GpsFix

OBD_FIELDS = ("speed_kph", "rpm", "coolant_c", "throttle_pos", "soc_pct", "fuel_level_pct")


def fuse(ts: float, obd_values: dict | None, fix: GpsFix | None, extra: dict | None = None) -> dict:
    """Event row for ``EventBuffer.append``: OBD speed wins (wheel speed), GPS speed fills in."""
    values = obd_values or {}
    row = {"ts": datetime.fromtimestamp(ts, timezone.utc), "lat": None, "lon": None}
    for name in OBD_FIELDS:
        row[name] = values.get(name)
    if fix is not None:
        row["lat"], row["lon"] = fix.lat, fix.lon
        if row["speed_kph"] is None and fix.speed_kph is not None:
            row["speed_kph"] = max(0.0, fix.speed_kph)
    if extra:
        row["extra"] = extra
    return row
