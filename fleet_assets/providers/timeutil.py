"""UTC helpers shared by the provider clients."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """Aware -> UTC; naive is taken as UTC (as the providers' own docs do)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def rfc3339_z(value: datetime) -> str:
    """``2026-01-01T12:00:00Z`` (milliseconds only when present)."""
    value = as_utc(value)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def check_window(provider: str, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise ValueError(f"{provider}: empty time window: end {end.isoformat()} is not after start {start.isoformat()}")
    return start, end
