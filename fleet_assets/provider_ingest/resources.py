"""Dagster resources for the telematics providers: ``MotiveResource``, ``SamsaraResource``.

``provider_resources()`` is what the code location binds.

Where each setting comes from, resolved in ``get_client()`` (never at import):
* credential: the ``api_key`` field, else the provider's variable
  (``MOTIVE_API_KEY`` / ``SAMSARA_API_TOKEN``) read at run time. Dagster
  replaces a resource's whole config when run config sets any field, which
  drops an ``api_key`` bound with ``dg.EnvVar``; reading the variable here
  keeps the credential whatever else is overridden.
* base URL: the ``base_url`` field, else ``MOTIVE_BASE_URL`` /
  ``SAMSARA_BASE_URL`` (e.g. Samsara's EU host), else the provider default.
* the deterministic in-process sandbox only when *no* credential is set and
  no base URL was chosen: a credential variable that is set but blank, or a
  base URL without a credential, is a configuration error rather than
  simulated data stored as the day's data. Sandbox answers are marked (see
  ``ProviderClient.served_by_sandbox``) and the raw manifest says so.
Every client of one provider and base URL in this process shares one rate
budget, so concurrent assets cannot jointly exceed the provider's limit; across
runs and machines, the provider's pool bounds the fetches at once and each takes
its share of the budget (``pools``).
"""

from __future__ import annotations

import logging
import threading
from typing import ClassVar, Optional

import dagster as dg
from pydantic import Field, PrivateAttr

from fleet_assets.provider_ingest.pools import PROVIDER_POOLS, concurrent_fetches
from fleet_assets.providers import motive as motive_mod
from fleet_assets.providers import samsara as samsara_mod
from fleet_assets.providers.client import ProviderClient, public_url
from fleet_assets.providers.errors import ProviderConfigError
from fleet_assets.providers.motive import MotiveClient
from fleet_assets.providers.ratelimit import CAP_HEADROOM, RateLimiter
from fleet_assets.providers.samsara import SamsaraClient
from fleet_assets.providers.client_settings import ClientSettings, parse_verify
from fleet_assets.sandbox.config import FaultConfig, SandboxConfig
from fleet_assets.sandbox.transport import ProviderSandboxTransport
from fleet_assets.settings import is_set, provider_base_url, provider_credential

log = logging.getLogger("fleet_assets.provider_ingest.resources")
SANDBOX_BASE_URL = "http://sandbox.invalid"
SANDBOX_SOURCE = "built-in sandbox"
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
    connect_timeout_s: float = Field(default=10.0, gt=0, description="TCP/TLS connect timeout.")
    read_timeout_s: float = Field(default=60.0, gt=0, description="Per-response read timeout.")
    verify_ssl: str = Field(default="true", description="'true', 'false' or the path of a PEM CA bundle.")
    max_retries: int = Field(default=5, ge=0, description="Retries for 5xx/timeouts/connection errors/bad bodies.")
    max_rate_limit_retries: int = Field(default=10, ge=0, description="429 answers tolerated per request.")
    backoff_base_s: float = Field(default=0.5, ge=0, description="Full-jitter exponential backoff base.")
    backoff_max_s: float = Field(default=30.0, ge=0, description="Longest backoff sleep.")
    rate_limit_per_s: Optional[float] = Field(default=None, gt=0, description="Requests per second, shared per "
                                              "provider. Unset: Motive 10, Samsara 150 (its per-token limit).")
    rate_limit_burst: int = Field(default=1, ge=1, description="Requests allowed back-to-back.")
    max_concurrency: int = Field(default=10, ge=1, description="Requests in flight at once.")
    endpoint_rate_limits: dict[str, float] = Field(
        default_factory=dict, description="Requests per second per endpoint name, replacing the documented cap "
        "(e.g. for an account with other limits): {'driver_vehicle_assignments': 5}.")
    sandbox_seed: int = Field(default=7, description="Sandbox only: seed of the simulated fleet.")
    sandbox_vehicles: int = Field(default=25, ge=0, description="Sandbox only: vehicles per provider.")
    sandbox_interval_s: int = Field(default=60, ge=5, description="Sandbox only: seconds between readings.")
    sandbox_latency_ms: float = Field(default=0.0, ge=0, description="Sandbox only: latency per response.")
    sandbox_fault_rate: float = Field(default=0.0, ge=0, le=1, description="Sandbox only: injected fault rate.")
    sandbox_malformed_records: bool = Field(default=False, description="Sandbox only: serve a few records that "
                                            "fail validation (they are quarantined).")

    _share: tuple[int, str] = PrivateAttr(default=(1, ""))  # (n, why): this run's fetch is one of n at once

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Read, at run time, how many fetches of the provider may run at once (``pools.concurrent_fetches``)."""
        bound = concurrent_fetches(context.instance, self._client_class.provider) if context.instance else None
        if bound is not None:
            self._share = bound
            if bound[0] > 1:
                context.log.info(f"{self._client_class.provider}: {bound[1]}, so this fetch paces itself at "
                                 f"1/{bound[0]} of the provider's rate limits")
        elif context.instance is not None and not context.instance.is_ephemeral:
            context.log.warning(f"{self._client_class.provider}: nothing limits how many fetches run at once on "
                                f"this instance, so each uses the whole rate budget; set a limit with `dagster "
                                f"instance concurrency set {PROVIDER_POOLS[self._client_class.provider]} N`")

    def _settings(self, provider: str, credential: str, env_var: str, base_url: str) -> ClientSettings:
        parse_verify(self.verify_ssl, provider)  # fail early with a clear message on a bad CA path
        return ClientSettings(
            provider=provider, base_url=base_url, credential=credential, credential_env_var=env_var,
            connect_timeout_s=self.connect_timeout_s, read_timeout_s=self.read_timeout_s,
            verify_ssl=self.verify_ssl, max_retries=self.max_retries,
            max_rate_limit_retries=self.max_rate_limit_retries, backoff_base_s=self.backoff_base_s,
            backoff_max_s=self.backoff_max_s, rate_limit_per_s=self.rate_limit_per_s,
            rate_limit_burst=self.rate_limit_burst, max_concurrency=self.max_concurrency,
            endpoint_rate_limits=dict(self.endpoint_rate_limits))

    def sandbox_config(self) -> SandboxConfig:
        return SandboxConfig(seed=self.sandbox_seed, motive_vehicles=self.sandbox_vehicles,
                             samsara_vehicles=self.sandbox_vehicles, interval_s=self.sandbox_interval_s,
                             latency_ms=self.sandbox_latency_ms, faults=FaultConfig(rate=self.sandbox_fault_rate),
                             malformed_records=self.sandbox_malformed_records)

    def _credential(self) -> str | None:
        """The configured key, else the provider's variable; a variable set but blank is an error."""
        if self.api_key and self.api_key.strip():
            return self.api_key
        env_var = self._client_class.credential_env_var
        value = provider_credential(env_var)
        if value is not None and not value.strip():
            raise ProviderConfigError(self._client_class.provider, "config",
                                      f"{env_var} is set but empty: set it to the credential, or unset it to use "
                                      "the built-in sandbox")
        return value

    def _base_url(self) -> tuple[str, str | None]:
        """(URL, where it was chosen: 'base_url', the variable's name, or None for the provider default)."""
        cls = self._client_class
        if self.base_url and self.base_url.strip():
            return self.base_url.strip(), "base_url"
        from_env = provider_base_url(cls.base_url_env_var)
        if from_env:
            return from_env, cls.base_url_env_var
        return cls.default_base_url, None

    def get_client(self):
        """A client for the real API when a credential is set, else for the in-process sandbox."""
        cls = self._client_class
        credential = self._credential()
        base_url, origin = self._base_url()
        if credential:
            settings = cls.settings_for_share(self._settings(cls.provider, credential, cls.credential_env_var, base_url),
                                              *self._share)
            rate = settings.rate_limit_per_s or cls.default_rate_limit_per_s
            per_endpoint = {  # one budget per endpoint in this process, like the provider-wide one
                name: shared_limiter(cls.provider, f"{base_url}#{name}", cap * CAP_HEADROOM, 1)
                for name, cap in cls.endpoint_caps_for(settings).items()}
            return self._configure(cls(settings, limiter=shared_limiter(cls.provider, base_url, rate,
                                                                        self.rate_limit_burst),
                                       endpoint_limiters=per_endpoint))
        if origin is not None:
            raise ProviderConfigError(cls.provider, "config",
                                      f"{origin} is {public_url(base_url)} but {cls.credential_env_var} is not set: "
                                      f"set the credential, or unset {origin} to use the built-in sandbox")
        log.warning("%s: no %s set, using the built-in sandbox", cls.provider.capitalize(), cls.credential_env_var)
        cfg = self.sandbox_config()
        settings = self._settings(cls.provider, self._sandbox_credential(cfg), cls.credential_env_var,
                                  SANDBOX_BASE_URL)
        client = cls(settings, transport=ProviderSandboxTransport(cfg),  # nothing to protect in-process: no endpoint caps
                     limiter=RateLimiter(max(self.rate_limit_per_s or 0, 1000.0)), endpoint_limiters={})
        client.source = SANDBOX_SOURCE
        return self._configure(client)

    def _configure(self, client):
        """Provider-specific settings of a fresh client (none by default)."""
        return client

    def _sandbox_credential(self, cfg: SandboxConfig) -> str:  # pragma: no cover - abstract
        raise NotImplementedError


class MotiveResource(_ProviderResource):
    """Motive API access; no ``api_key`` -> the built-in sandbox."""

    _client_class: ClassVar[type[ProviderClient]] = MotiveClient
    api_key: Optional[str] = Field(default=None, description="Unset: read MOTIVE_API_KEY at run time.")
    base_url: Optional[str] = Field(default=None, description=f"API root URL. Unset: $MOTIVE_BASE_URL, else "
                                    f"{motive_mod.DEFAULT_BASE_URL}.")

    def _sandbox_credential(self, cfg: SandboxConfig) -> str:
        return cfg.motive_api_key


class SamsaraResource(_ProviderResource):
    """Samsara API access; no ``api_key`` (token) -> the built-in sandbox."""

    _client_class: ClassVar[type[ProviderClient]] = SamsaraClient
    api_key: Optional[str] = Field(default=None, description="API token. Unset: read SAMSARA_API_TOKEN at run time.")
    base_url: Optional[str] = Field(default=None, description=f"API root URL. Unset: $SAMSARA_BASE_URL, else "
                                    f"{samsara_mod.DEFAULT_BASE_URL} (EU accounts: https://api.eu.samsara.com).")

    assignment_types: list[str] = Field(
        default=list(samsara_mod.ASSIGNMENT_TYPES),
        description="assignmentType values fetched on top of the unfiltered assignments walk: Samsara returns "
        "assignments outside vehicle trips only when one is given. Default: every documented value.")

    def _sandbox_credential(self, cfg: SandboxConfig) -> str:
        return cfg.samsara_api_token

    def _configure(self, client):
        client.assignment_types = tuple(t.strip() for t in self.assignment_types if t.strip())
        return client


def provider_resources() -> dict[str, _ProviderResource]:
    """``motive``/``samsara`` as the code location binds them.

    A credential that is set at load time is bound with ``dg.EnvVar`` (shown as
    an env var in the UI, never as a value); otherwise the resource resolves it
    at run time, falling back to the sandbox (see ``get_client``).
    """
    return {"motive": _bound(MotiveResource), "samsara": _bound(SamsaraResource)}


def _bound(resource_cls: type[_ProviderResource]) -> _ProviderResource:
    env_var = resource_cls._client_class.credential_env_var
    return resource_cls(api_key=dg.EnvVar(env_var)) if is_set(env_var) else resource_cls()
