"""The fast row validator must agree with pydantic's EdgeEvent on everything it accepts."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest
from fleet_protocol import EdgeEvent
from fleet_protocol.events import format_ts

from edge_collector.validation import EVENT_FIELDS, fast_event_values, utc_text

from .conftest import VIN

TRIP = "b2bdc7f4-63af-4c6a-a9cb-0a9d4a0c9a0c"


def _random_row(rng: random.Random) -> dict:
    ts = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(10**8),
                                                               microseconds=rng.choice([0, rng.randrange(10**6)]))
    row = {"ts": ts}
    for name in EVENT_FIELDS:
        row[name] = rng.choice([None, rng.uniform(-300, 25_000), rng.randint(-5, 150), 0.0, 1.0, 100.0, 90.0, -90.0])
    return row


def test_fast_path_agrees_with_pydantic():
    rng = random.Random(4)
    accepted = rejected = 0
    for _ in range(3000):
        row = _random_row(rng)
        fast = fast_event_values(row)
        try:
            ev = EdgeEvent(vin=VIN, trip_id=TRIP, seq=1, **row)
        except ValueError:
            assert fast is None, row  # pydantic rejects -> the fast path must not accept
            rejected += 1
            continue
        if fast is not None:
            assert fast == (format_ts(ev.ts), *(getattr(ev, n) for n in EVENT_FIELDS))
            accepted += 1
    assert accepted > 100 and rejected > 100


@pytest.mark.parametrize(
    "row",
    [
        {"ts": datetime(2025, 1, 1)},  # naive
        {"ts": datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=2)))},  # needs conversion
        {"ts": datetime(2025, 1, 1, tzinfo=timezone.utc), "rpm": "800"},  # string to coerce
        {"ts": datetime(2025, 1, 1, tzinfo=timezone.utc), "rpm": True},
        {"ts": datetime(2025, 1, 1, tzinfo=timezone.utc), "lat": float("nan")},
        {"ts": datetime(2025, 1, 1, tzinfo=timezone.utc), "unknown": 1},
        {"ts": "2025-01-01T00:00:00Z"},
    ],
)
def test_anything_unusual_is_left_to_pydantic(row):
    assert fast_event_values(row) is None


def test_utc_text_matches_format_ts():
    for micro in (0, 1, 500_000, 999_999):
        ts = datetime(2025, 11, 4, 12, 0, 5, micro, tzinfo=timezone.utc)
        assert utc_text(ts) == format_ts(ts)
