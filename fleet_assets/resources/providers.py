"""Dagster resources for the telematics providers: ``MotiveResource``, ``SamsaraResource``.

No credential configured -> the deterministic in-process sandbox (logged
once per client; nothing leaves the process), so ``make dev`` works on a
fresh checkout. Bind real credentials with ``dg.EnvVar`` (definitions.py
does so only when the variable is set) so the secret never appears in run
config or logs. Clients are built in ``get_client()``, never at import.
Every client of one provider and base URL in this process shares one rate
budget, so concurrent assets cannot jointly exceed the provider's limit.
"""

from __future__ import annotations

import logging
import threading
from typing import ClassVar, Optional

import dagster as dg
from pydantic import Field

from fleet_assets.providers import motive as motive_mod
from fleet_assets.providers import samsara as samsara_mod
from fleet_assets.providers.client import ProviderClient
from fleet_assets.providers.motive import MotiveClient
from fleet_assets.providers.ratelimit import RateLimiter
from fleet_assets.providers.samsara import SamsaraClient
from fleet_assets.providers.settings import ClientSettings, parse_verify
from fleet_assets.sandbox.config import FaultConfig, SandboxConfig
from fleet_assets.sandbox.transport import SandboxTransport

log = logging.getLogger("fleet_assets.resources.providers")
SANDBOX_BASE_URL = "http://sandbox.invalid"
_limiters: dict[tuple[str, str], RateLimiter] = {}
_limiters_lock = threading.Lock()


def shared_limiter(provider: str, base_url: str, rate: float, burst: int) -> RateLimiter:
    with _limiters_lock:
        key = (provider, base_url)
        limiter = _limiters.get(key)
        if limiter is None or limiter.interval != 1.0 / rate or limiter.burst != burst:
            limiter = _limiters[key] = RateLimiter(rate, burst)
        return limiter


class _ProviderResource(dg.ConfigurableResource):
    base_url: str = Field(description="API root URL.")
    connect_timeout_s: float = Field(default=10.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(default=60.0, gt=0, description="Per-response read timeout.")
    verify_ssl: str = Field(default="true", description="'true', 'false' or the path of a PEM CA bundle.")
    max_retries: int = Field(default=5, ge=0, description="Retries for 5xx/timeouts/connection errors/bad bodies.")
    max_rate_limit_retries: int = Field(default=10, ge=0, description="429 answers tolerated per request.")
    backoff_base_s: float = Field(default=0.5, ge=0, description="Full-jitter exponential backoff base.")
    backoff_max_s: float = Field(default=30.0, ge=0, description="Longest backoff sleep.")
    rate_limit_per_s: float = Field(default=10.0, gt=0, description="Requests per second, shared per provider.")
    rate_limit_burst: int = Field(default=1, ge=1, description="Requests allowed back-to-back.")
    max_concurrency: int = Field(default=10, ge=1, description="Requests in flight at once.")
    sandbox_seed: int = Field(default=7, description="Sandbox only: seed of the simulated fleet.")
    sandbox_vehicles: int = Field(default=25, ge=0, description="Sandbox only: vehicles per provider.")
    sandbox_interval_s: int = Field(default=60, ge=5, description="Sandbox only: seconds between readings.")
    sandbox_latency_ms: float = Field(default=0.0, ge=0, description="Sandbox only: latency per response.")
    sandbox_fault_rate: float = Field(default=0.0, ge=0, le=1, description="Sandbox only: injected fault rate.")

    def _settings(self, provider: str, credential: str, env_var: str, base_url: str) -> ClientSettings:
        parse_verify(self.verify_ssl, provider)  # fail early with a clear message on a bad CA path
        return ClientSettings(
            provider=provider, base_url=base_url, credential=credential, credential_env_var=env_var,
            connect_timeout_s=self.connect_timeout_s, read_timeout_s=self.read_timeout_s,
            verify_ssl=self.verify_ssl, max_retries=self.max_retries,
            max_rate_limit_retries=self.max_rate_limit_retries, backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s, rate_limit_per_s=self.rate_limit_per_s,
            rate_limit_burst=self.rate_limit_burst, max_concurrency=self.max_concurrency)

    def sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(seed=self.sandbox_seed, motive_vehicles=self.sandbox_vehicles,
                             samsara_vehicles=self.sandbox_vehicles, interval_s=self.sandbox_interval_s,
                             latency_ms=self.sandbox_latency_ms, faults=FaultConfig(rate=self.sandbox_fault_rate))

    def get_client(self):
        """A client for the real API when ``api_key`` is set, else for the in-process sandbox."""
        cls = self._client_class
        if self.api_key:
            settings = self._settings(cls.provider, self.api_key, cls.credential_env_var, self.base_url)
            return cls(settings, limiter=shared_limiter(cls.provider, self.base_url, self.rate_limit_per_s,
                                                        self.rate_limit_burst))
        log.warning("%s: no %s set, using the built-in sandbox", cls.provider.capitalize(), cls.credential_env_var)
        cfg = self.sandbox_config()
        settings = self._settings(cls.provider, self._sandbox_credential(cfg), cls.credential_env_var,
                                  SANDBOX_BASE_URL)
        return cls(settings, transport=SandboxTransport(cfg), limiter=RateLimiter(max(self.rate_limit_per_s, 1000.0)))

    def _sandbox_credential(self, cfg: SandboxConfig) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class MotiveResource(_ProviderResource):
    """Motive API access; no ``api_key`` -> the built-in sandbox."""

    _client_class: ClassVar[type[ProviderClient]] = MotiveClient
    api_key: Optional[str] = Field(default=None, description="Bind with dg.EnvVar('MOTIVE_API_KEY').")
    base_url: str = Field(default=motive_mod.DEFAULT_BASE_URL, description="API root URL.")

    def _sandbox_credential(self, cfg: SandboxConfig) -> str:
        return cfg.motive_api_key


class SamsaraResource(_ProviderResource):
    """Samsara API access; no ``api_key`` (token) -> the built-in sandbox."""

    _client_class: ClassVar[type[ProviderClient]] = SamsaraClient
    api_key: Optional[str] = Field(default=None, description="API token; bind with dg.EnvVar('SAMSARA_API_TOKEN').")
    base_url: str = Field(default=samsara_mod.DEFAULT_BASE_URL, description="API root URL (EU: api.eu.samsara.com).")

    def _sandbox_credential(self, cfg: SandboxConfig) -> str:
        return cfg.samsara_api_token
