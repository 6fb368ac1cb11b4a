"""Suite-wide: provider credentials and base URLs of the developer's shell never reach a test.

The provider resources read MOTIVE_API_KEY / SAMSARA_API_TOKEN / *_BASE_URL at run time, so a
developer with real keys exported would otherwise send test traffic to the real APIs.
Tests that need them set them with ``monkeypatch``.
"""

import pytest

PROVIDER_ENV_VARS = ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "MOTIVE_BASE_URL", "SAMSARA_BASE_URL")


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch):
    for name in PROVIDER_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
