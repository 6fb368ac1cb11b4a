"""The one module that reads environment variables (plain Python: no Dagster import).

Everything else asks here, so what the platform reads from its environment is
listed in one place. Secrets are never read into values here: a resource
binds them with ``dg.EnvVar`` (resolved at run start, never logged); this
module only says whether they are set.
"""

from __future__ import annotations

import os

# --- analytics ---
ANALYTICS_ENDPOINT_ENV_VARS = ("GRAPH_SERVICE_URL", "GRAPH_ENDPOINT")  # IcsAnalytics' own names, in its order
ANALYTICS_TOKEN_ENV_VAR = "SEC_AUTH_TOKEN"  # IcsAnalytics' bearer token (optional)
DATA_DIR_ENV_VAR = "FLEET_DATA_DIR"  # read here for the analytics CLI; one definition with the general block


def analytics_endpoint_env_var() -> str | None:
    """The first of ``ANALYTICS_ENDPOINT_ENV_VARS`` that is set (non-empty), or None."""
    return next((name for name in ANALYTICS_ENDPOINT_ENV_VARS if os.environ.get(name)), None)


def analytics_endpoint() -> str | None:
    """The analytics endpoint from the environment, or None (= the embedded sandbox backend)."""
    name = analytics_endpoint_env_var()
    return os.environ[name] if name else None


def env_secret_is_set(name: str) -> bool:
    """Whether the secret ``name`` is set, without handing its value to anyone."""
    return bool(os.environ.get(name))


def env_secret(name: str) -> str | None:
    """The secret in ``name`` (None if unset or empty): for a CLI, which has no EnvVar binding."""
    return os.environ.get(name) or None


def data_dir_default() -> str:
    """The platform data dir: ``$FLEET_DATA_DIR``, else ``./data``."""
    return os.environ.get(DATA_DIR_ENV_VAR, "data")
