"""Sandbox settings: fleet shape, serving behaviour and fault-injection switches.

Fault kinds (``FaultConfig.kinds`` / CLI ``--faults``):

=====================  ===================================================
``rate_limit``         429 with ``Retry-After`` in fractional seconds
``rate_limit_date``    429 with ``Retry-After`` as an HTTP-date
``http_500/502/503``   5xx with a plain-text body (as Samsara sends)
``slow``               answer after ``slow_s`` (below a sane read timeout)
``timeout``            answer after ``timeout_s`` (the client should time out)
``truncated``          200 with the JSON body cut in half
=====================  ===================================================

``rate`` is the chance that one request attempt is faulted; the decision is
``hash(seed, request key, attempt)``, so a run is reproducible and a retried
request gets a fresh draw. Attempts beyond ``max_faulty_attempts`` are clean,
so a bounded retry budget always gets through. ``script`` forces faults for
requests whose path contains a key: ``{"/v3/vehicle_locations/8000003":
("http_503", "http_503")}`` fails the first two attempts. Data-level
switches: ``duplicate_rate`` repeats records inside a response;
``late_rate`` hides records from the first fetch of a window (they appear
when the same window is fetched again, like a late device upload).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

FAULT_KINDS = ("rate_limit", "rate_limit_date", "http_500", "http_502", "http_503", "slow", "timeout", "truncated")
TRANSIENT_KINDS = ("rate_limit", "rate_limit_date", "http_500", "http_502", "http_503", "timeout", "truncated")


@dataclass(frozen=True)
class FaultConfig:
    rate: float = 0.0
    kinds: tuple[str, ...] = TRANSIENT_KINDS
    retry_after_s: float = 0.05
    slow_s: float = 0.2
    timeout_s: float = 5.0
    max_faulty_attempts: int = 3
    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    script: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [k for k in (*self.kinds, *(k for ks in self.script.values() for k in ks)) if k not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault kind(s) {unknown}; known: {', '.join(FAULT_KINDS)}")
        for name in ("rate", "duplicate_rate", "late_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.rate > 0 and not self.kinds:
            raise ValueError("fault rate > 0 needs at least one fault kind")


@dataclass(frozen=True)
class SandboxConfig:
    seed: int = 7
    motive_vehicles: int = 20
    samsara_vehicles: int = 20
    interval_s: int = 60  # seconds between breadcrumbs / gps readings while the engine runs
    motive_api_key: str = "sandbox-motive-key"
    samsara_api_token: str = "sandbox-samsara-token"
    latency_ms: float = 0.0  # fixed delay added to every response
    rate_limit_per_s: float | None = None  # server-side limit per provider (429 + Retry-After when exceeded)
    # Motive's documented "10 simultaneous requests" to vehicle_locations, enforced: a call arriving while this
    # many are in flight gets 429 + Retry-After (None: not enforced). Only the HTTP server counts in-flight calls.
    motive_max_simultaneous: int | None = None
    samsara_page_size: int = 50  # record fragments per stats-history page (a vehicle may span two pages)
    samsara_assignment_page_size: int = 50  # fixed 50, as observed live
    empty_pages: bool = True  # put an empty page with hasNextPage=true into long cursor walks
    fleet_start: date = date(2025, 1, 1)  # no data before this day
    # Motive answers in the company's unit setting unless the request sends X-Metric-Units (Motive
    # "System of Units"); each vehicle's ``metric_units`` flag (index % 5 == 2) is independent of it,
    # so with "metric" most flags disagree with the units actually served.
    motive_company_units: str = "imperial"
    # Every response says X-Fleet-Sandbox: true, so simulated data is marked wherever it lands;
    # False makes the sandbox answer like a real provider (only for testing that marking).
    mark_responses: bool = True
    # Records that fail validation, for the quarantine path: Samsara vehicles with index % 7 == 1 carry an
    # object inside externalIds (not a JSON scalar), index % 7 == 4 numbers/booleans there (valid: any scalar);
    # the first breadcrumb of each day of Motive vehicles with index % 7 == 1 has "lat": "north".
    malformed_records: bool = False
    hide_future: bool = True  # no readings after the wall-clock now
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        if self.motive_vehicles < 0 or self.samsara_vehicles < 0:
            raise ValueError("vehicle counts must be >= 0")
        if not 5 <= self.interval_s <= 3600:
            raise ValueError(f"interval_s must be within [5, 3600], got {self.interval_s}")
        if not 1 <= self.samsara_page_size <= 512:
            raise ValueError("samsara_page_size must be within [1, 512] (Samsara's maximum)")
        if self.motive_company_units not in ("imperial", "metric"):
            raise ValueError(f"motive_company_units must be 'imperial' or 'metric', got {self.motive_company_units!r}")
        if self.motive_max_simultaneous is not None and self.motive_max_simultaneous < 1:
            raise ValueError("motive_max_simultaneous must be >= 1 (or None for no limit)")
        if self.rate_limit_per_s is not None and self.rate_limit_per_s <= 0:
            raise ValueError("rate_limit_per_s must be > 0 (or None for no limit)")
