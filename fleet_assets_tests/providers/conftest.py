"""Provider clients wired to the sandbox through its in-process httpx transport.

Real HTTP semantics (status codes, headers, bodies, read timeouts), no socket;
one test module also goes through the loopback uvicorn server.
"""

from datetime import UTC, datetime

import pytest

from fleet_assets.providers import ClientSettings, MotiveClient, SamsaraClient
from fleet_assets.sandbox import FaultConfig, SandboxBackend, SandboxConfig, ProviderSandboxTransport

DAY_START = datetime(2026, 3, 2, tzinfo=UTC)
DAY_END = datetime(2026, 3, 3, tzinfo=UTC)
# endpoint_caps=False: no documented per-endpoint pacing (test_endpoint_rate_caps measures it on its own)
FAST = dict(backoff_base_s=0.01, backoff_max_s=0.05, rate_limit_per_s=2000.0, read_timeout_s=5.0, endpoint_caps=False)


def settings(provider: str, credential: str, base_url: str, **overrides) -> ClientSettings:
    env = "MOTIVE_API_KEY" if provider == "motive" else "SAMSARA_API_TOKEN"
    return ClientSettings(provider=provider, base_url=base_url, credential=credential, credential_env_var=env,
                          **{**FAST, **overrides})


class Rig:
    """A sandbox backend plus clients of both providers talking to it."""

    def __init__(self, config: SandboxConfig, **overrides) -> None:
        self.backend = SandboxBackend(config)
        transport = ProviderSandboxTransport(self.backend)
        motive_key = overrides.pop("motive_key", config.motive_api_key)
        samsara_token = overrides.pop("samsara_token", config.samsara_api_token)
        assignment_types = overrides.pop("assignment_types", None)
        self.motive = MotiveClient(settings("motive", motive_key, "http://motive.test", **overrides),
                                   transport=transport)
        self.samsara = SamsaraClient(settings("samsara", samsara_token, "http://samsara.test", **overrides),
                                     transport=transport)
        if assignment_types is not None:  # () = the unfiltered assignments walk alone
            self.samsara.assignment_types = assignment_types

    def requests(self, path_part: str = "") -> list:
        return [r for r in self.backend.requests if path_part in r.path]


@pytest.fixture
def rig():
    def make(vehicles: int = 8, faults: FaultConfig | None = None, **overrides) -> Rig:
        sandbox_keys = {k: overrides.pop(k) for k in list(overrides) if k in (
            "latency_ms", "rate_limit_per_s_server", "samsara_page_size", "empty_pages", "interval_s", "seed")}
        server_rate = sandbox_keys.pop("rate_limit_per_s_server", None)
        config = SandboxConfig(motive_vehicles=vehicles, samsara_vehicles=vehicles, faults=faults or FaultConfig(),
                               rate_limit_per_s=server_rate, **sandbox_keys)
        return Rig(config, **overrides)
    return make
