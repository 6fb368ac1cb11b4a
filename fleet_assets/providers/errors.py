"""Provider errors: one family, every message names the provider and the endpoint.

Callers (assets, CLIs) only need to tell three situations apart: fix the
credentials (``ProviderAuthError``), try again later (``ProviderUnavailableError``)
or report a provider bug (``ProviderResponseError``).
"""

from __future__ import annotations


class ProviderError(RuntimeError):
    """Base class; ``provider`` and ``endpoint`` are always set."""

    def __init__(self, provider: str, endpoint: str, message: str, *, status: int | None = None) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.status = status
        super().__init__(f"{provider} {endpoint}: {message}")


class ProviderAuthError(ProviderError):
    """401/403: the credentials are missing, wrong or lack a scope. Never retried."""


class ProviderUnavailableError(ProviderError):
    """Retries exhausted on 429/5xx/timeouts/connection errors."""


class ProviderResponseError(ProviderError):
    """The provider answered, but the body is unusable (truncated, not JSON, wrong shape) or a 4xx."""


class ProviderConfigError(ProviderError):
    """Our own configuration is wrong (e.g. a CA bundle path that does not exist)."""
