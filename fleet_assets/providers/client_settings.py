"""Client settings shared by both providers (plain dataclass: no Dagster needed).

Defaults follow the providers' docs: Motive documents at most 10 simultaneous
``/v3/vehicle_locations`` calls; Samsara allows 150 req/s per token, and caps
endpoints on their own (driver-vehicle assignments 5 req/s, vehicles 25 req/s,
stats history 50 req/s; developers.samsara.com/docs/rate-limits and the API
reference). ``rate_limit_per_s`` None means the client's provider default.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fleet_assets.providers.errors import ProviderConfigError


@dataclass(frozen=True)
class ClientSettings:
    provider: str
    base_url: str
    credential: str = field(repr=False)  # API key / bearer token: never in repr or logs
    credential_env_var: str = ""  # named in auth errors so the user knows what to set
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    verify_ssl: bool | str = True  # True / False / path to a CA bundle
    max_retries: int = 5  # retries after the first attempt, for 5xx/timeouts/connection errors/bad bodies
    max_rate_limit_retries: int = 10  # 429s tolerated per request (circuit breaker)
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    rate_limit_per_s: float | None = None  # provider-wide budget; None = the client's provider default
    rate_limit_burst: int = 1
    endpoint_caps: bool = True  # pace each endpoint under its documented cap (Endpoint.rate_per_s)
    endpoint_rate_limits: dict[str, float] = field(default_factory=dict)  # endpoint name -> req/s, overrides caps
    max_concurrency: int = 10
    fallback_retry_after_s: float = 5.0  # 429 without a usable Retry-After header
    user_agent: str = "fleet-assets/0.1 (+httpx)"
    metric_units: bool = False  # Motive: the unit system asked for with X-Metric-Units on every call

    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect_timeout_s, read=self.read_timeout_s,
                             write=self.read_timeout_s, pool=None)

    def verify(self) -> bool | ssl.SSLContext:
        return parse_verify(self.verify_ssl, self.provider)


def parse_verify(value: bool | str, provider: str = "provider") -> bool | ssl.SSLContext:
    """``True``/``False``/"true"/"false"/CA-bundle path -> what httpx's ``verify=`` takes."""
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("", "true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    path = Path(text).expanduser()
    if not path.is_file():
        raise ProviderConfigError(provider, "tls", f"verify_ssl CA bundle {str(path)!r} does not exist "
                                  "(use true, false or the path of a PEM CA bundle)")
    try:
        return ssl.create_default_context(cafile=str(path))
    except (ssl.SSLError, OSError) as exc:
        raise ProviderConfigError(provider, "tls", f"verify_ssl CA bundle {str(path)!r} is not a PEM "
                                  f"certificate bundle: {exc}") from exc
