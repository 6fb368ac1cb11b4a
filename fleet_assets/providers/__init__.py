"""Motive and Samsara REST clients (httpx + tenacity + pydantic).

Public API: :class:`MotiveClient`, :class:`SamsaraClient`,
:class:`MotiveLocationsResult`, the error family in :mod:`.errors`, the
endpoint registry (:data:`REGISTRY`) and :class:`ClientSettings`.
"""

from fleet_assets.providers.endpoints import REGISTRY, Endpoint, EndpointRegistry
from fleet_assets.providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from fleet_assets.providers.motive import MotiveClient, MotiveLocationsResult
from fleet_assets.providers.ratelimit import RateLimiter
from fleet_assets.providers.samsara import SamsaraClient
from fleet_assets.providers.client_settings import ClientSettings

__all__ = [
    "REGISTRY", "ClientSettings", "Endpoint", "EndpointRegistry", "MotiveClient", "MotiveLocationsResult",
    "ProviderAuthError", "ProviderConfigError", "ProviderError", "ProviderResponseError",
    "ProviderUnavailableError", "RateLimiter", "SamsaraClient",
]
