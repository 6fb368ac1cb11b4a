"""Shared fixtures: real SQLite buffers in tmp dirs, deterministic sample rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from edge_collector.buffer import EventBuffer

VIN = "WAUZZZFY0R1234567"
T0 = datetime(2025, 11, 4, 11, 53, 12, tzinfo=timezone.utc)


def sample_rows(n: int, start: int = 0, *, with_fix: bool = True) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        rows.append({
            "ts": T0 + timedelta(seconds=i),
            "lat": 49.5891 + i * 1e-5 if with_fix else None,
            "lon": 8.6527 if with_fix else None,
            "speed_kph": float(i % 120),
            "rpm": 800.0 + i % 2000,
            "coolant_c": 86.0,
            "throttle_pos": 0.32,
            "fuel_level_pct": 62.0,
        })
    return rows


@pytest.fixture
def buffer(tmp_path):
    with EventBuffer(tmp_path / "buffer.db") as buf:
        yield buf
