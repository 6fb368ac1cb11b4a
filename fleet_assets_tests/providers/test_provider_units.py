"""Small pure pieces: the shared rate limiter, date chunking, time windows."""

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from fleet_assets.providers.motive import date_chunks
from fleet_assets.providers.ratelimit import RateLimiter
from fleet_assets.providers.timeutil import check_window, rfc3339_z


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_limiter_spaces_requests_and_pause_is_max_merged():
    clock = FakeClock()
    limiter = RateLimiter(10.0, burst=1, clock=clock)
    delays = [limiter._reserve() for _ in range(3)]
    assert delays == pytest.approx([0.0, 0.1, 0.2])  # one slot every 1/rate, reserved in order
    clock.now += 1.0
    limiter.pause(2.0)
    limiter.pause(0.5)  # a shorter pause never shortens the longer one
    assert limiter.paused_for() == pytest.approx(2.0)
    assert limiter._reserve() == pytest.approx(2.0)
    burst = RateLimiter(10.0, burst=3, clock=clock)
    assert [burst._reserve() for _ in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.1])
    with pytest.raises(ValueError, match="rate_per_s must be > 0"):
        RateLimiter(0)


def test_limiter_acquire_waits_out_a_pause():
    limiter = RateLimiter(1000.0)
    limiter.pause(0.15)

    async def go() -> float:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        await limiter.acquire()
        return loop.time() - t0
    assert 0.13 <= asyncio.run(go()) < 0.6


def test_date_chunks_respect_the_three_month_limit():
    chunks = date_chunks(date(2026, 1, 1), date(2026, 7, 1))
    assert chunks[0] == (date(2026, 1, 1), date(2026, 3, 31))
    assert all((b - a).days < 90 for a, b in chunks) and chunks[-1][1] == date(2026, 7, 1)
    assert all(b + timedelta(days=1) == c for (_, b), (c, _) in zip(chunks, chunks[1:]))
    assert date_chunks(date(2026, 3, 2), date(2026, 3, 2)) == [(date(2026, 3, 2), date(2026, 3, 2))]


def test_windows_and_time_format():
    start = datetime(2026, 3, 2, tzinfo=UTC)
    with pytest.raises(ValueError, match="samsara: empty time window"):
        check_window("samsara", start, start)
    naive = check_window("motive", datetime(2026, 3, 2), datetime(2026, 3, 3))
    assert naive[0] == start  # naive is taken as UTC
    assert rfc3339_z(datetime(2026, 3, 2, 8, 0, 0, 123456, tzinfo=UTC)) == "2026-03-02T08:00:00.123Z"
    assert rfc3339_z(datetime.fromisoformat("2026-03-02T03:00:00-05:00")) == "2026-03-02T08:00:00Z"
