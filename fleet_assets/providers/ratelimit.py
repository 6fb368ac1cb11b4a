"""A per-provider request budget shared by every concurrent call.

A reservation scheduler (GCRA-style token bucket): each request reserves the
next free slot ``1/rate`` after the previous one, so N coroutines pace
themselves without polling. A 429 calls :meth:`pause`, which moves the
earliest slot of *every* caller past ``Retry-After`` (max-merged), so one
rate-limited request stops the whole provider instead of each task hammering
on its own. Thread-safe and loop-agnostic (a ``threading.Lock`` guards plain
floats), so one limiter can serve several event loops.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable


CAP_HEADROOM = 0.9  # pace at 90% of a documented cap: queueing jitter on the way must not push a
# server-side one-second window over the cap (a 429 costs far more than the 10%)


def endpoint_limiters(caps: dict[str, float], headroom: float = CAP_HEADROOM) -> dict[str, "RateLimiter"]:
    """One limiter per capped endpoint, paced at ``headroom`` x its cap, no burst."""
    return {name: RateLimiter(rate * headroom) for name, rate in caps.items()}


class RateLimiter:
    def __init__(self, rate_per_s: float, burst: int = 1, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s}")
        self.interval = 1.0 / rate_per_s
        self.burst = max(1, int(burst))
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0.0
        self._pause_until = 0.0

    def _reserve(self) -> float:
        with self._lock:
            now = self._clock()
            earliest = max(self._next, now - (self.burst - 1) * self.interval)
            slot = max(earliest, self._pause_until)
            self._next = slot + self.interval
            return max(0.0, slot - now)

    def paused_for(self) -> float:
        with self._lock:
            return max(0.0, self._pause_until - self._clock())

    async def acquire(self) -> None:
        """Wait for a slot; re-queue if a 429 paused the provider meanwhile."""
        while True:
            delay = self._reserve()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.paused_for() <= 0:
                return

    def pause(self, seconds: float) -> None:
        """Hold every caller for ``seconds`` from now (never shortens an existing pause)."""
        with self._lock:
            self._pause_until = max(self._pause_until, self._clock() + max(0.0, seconds))
