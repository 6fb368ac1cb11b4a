"""Deterministic fault decisions and the server-side rate limit of the sandbox."""

from __future__ import annotations

import email.utils
import math
import threading
import time
from datetime import UTC, datetime, timedelta

from fleet_assets.sandbox.config import FaultConfig
from fleet_assets.sandbox.fleet import stable_int, stable_unit

STATUS_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def choose_fault(cfg: FaultConfig, seed: int, request_key: str, path: str, attempt: int) -> str | None:
    """The fault for this attempt of this request, or None. Pure: hash(seed, key, attempt)."""
    for fragment, kinds in cfg.script.items():
        if fragment in path:
            return kinds[attempt] if attempt < len(kinds) else None
    if cfg.rate <= 0 or attempt >= cfg.max_faulty_attempts:
        return None
    if stable_unit(seed, "fault", request_key, attempt) >= cfg.rate:
        return None
    return cfg.kinds[stable_int(seed, "kind", request_key, attempt) % len(cfg.kinds)]


def retry_after_header(kind: str, seconds: float, now: datetime | None = None) -> str:
    """Fractional delta-seconds (Samsara style) or an HTTP-date rounded *up* to the second."""
    if kind == "rate_limit_date":
        when = (now or datetime.now(UTC)) + timedelta(seconds=seconds)
        when = when.replace(microsecond=0) + timedelta(seconds=1 if when.microsecond else 0)
        return email.utils.format_datetime(when, usegmt=True)
    return f"{seconds:.5f}"


class ServerRateLimit:
    """Token bucket (burst = 20% of a second's budget): over budget -> seconds until the next token."""

    def __init__(self, rate_per_s: float, clock=time.monotonic) -> None:
        self.rate = rate_per_s
        self.capacity = max(1.0, math.floor(rate_per_s * 0.2))
        self.tokens = self.capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0.0 when the request may pass, else the suggested Retry-After."""
        with self._lock:
            now = self._clock()
            self.tokens = min(self.capacity, self.tokens + (now - self._last) * self.rate)
            self._last = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return max(0.001, (1.0 - self.tokens) / self.rate)
