"""Deterministic fault plans for the sandbox analytics backend.

Each request draws one outcome from ``random.Random(f"{seed}:{n}")`` (n = the
request's sequence number), so a given client behaviour meets the same
faults on every run. Poisoned records are chosen by hashing the record's
natural key with the seed: the same record is rejected every time, like a
real bad row would be.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

OUTCOMES = ("ok", "http_500", "graphql_error", "timeout", "commit_then_500")


@dataclass(frozen=True)
class FaultPlan:
    seed: int = 0
    http_500: float = 0.0
    graphql_error: float = 0.0
    timeout: float = 0.0
    commit_then_500: float = 0.0
    poison_rate: float = 0.0
    hang_seconds: float = 1.0  # how long a loopback "timeout" holds the request

    def __post_init__(self) -> None:
        total = self.http_500 + self.graphql_error + self.timeout + self.commit_then_500
        for name in ("http_500", "graphql_error", "timeout", "commit_then_500", "poison_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"fault rate {name}={getattr(self, name)} must be within [0, 1]")
        if total > 1.0:
            raise ValueError(f"fault rates add up to {total:.2f} > 1")

    @classmethod
    def uniform(cls, rate: float, seed: int = 0, poison_rate: float = 0.0, hang_seconds: float = 1.0) -> "FaultPlan":
        """``rate`` of requests fail, split evenly across the four request-level faults."""
        q = rate / 4
        return cls(seed=seed, http_500=q, graphql_error=q, timeout=q, commit_then_500=q,
                   poison_rate=poison_rate, hang_seconds=hang_seconds)

    def outcome(self, request_no: int) -> str:
        r = random.Random(f"{self.seed}:{request_no}").random()
        for name in OUTCOMES[1:]:
            p = getattr(self, name)
            if r < p:
                return name
            r -= p
        return "ok"

    def is_poisoned(self, *natural_key: object) -> bool:
        if self.poison_rate <= 0:
            return False
        digest = hashlib.blake2b(repr((self.seed, natural_key)).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2**64 < self.poison_rate
