"""Every environment variable the platform reads, read here and nowhere else.

One module so that a maintainer sees the whole configuration surface at once,
and so that each variable has one parser and one error message. Plain Python
(no Dagster): the libraries, CLIs and Dagster areas all call it. Each function
reads the environment when called (never cached at import), except where its
caller fixes the value for a process on purpose (``partitions_start`` is read
once by ``fleet_assets.partitions`` at load time).

Secrets stay out of Dagster config: ``definitions``/the resources bind them
with ``dg.EnvVar(<name>)``; this module only says whether they are set (and
hands the value to a resource at run time, never to a log).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date

DATA_DIR_ENV = "FLEET_DATA_DIR"
DEFAULT_DATA_DIR = "data"

PARTITIONS_START_ENV = "FLEET_PARTITIONS_START"
DEFAULT_PARTITIONS_START = "2025-01-01"

LOOKBACK_ENV = "FLEET_LOOKBACK_DAYS"
DEFAULT_LOOKBACK_DAYS = 7


def _raw(name: str, environ: Mapping[str, str] | None) -> str | None:
    return (os.environ if environ is None else environ).get(name)


def data_dir(environ: Mapping[str, str] | None = None) -> str:
    """Root of all platform data (``FLEET_DATA_DIR``, default ``./data``)."""
    return _raw(DATA_DIR_ENV, environ) or DEFAULT_DATA_DIR


def partitions_start(environ: Mapping[str, str] | None = None) -> str:
    """The first partition day, canonical ``YYYY-MM-DD``; a clear error on anything else."""
    raw = (_raw(PARTITIONS_START_ENV, environ) or "").strip() or DEFAULT_PARTITIONS_START
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise ValueError(f"{PARTITIONS_START_ENV} must be a date YYYY-MM-DD, got {raw!r}") from None


def lookback_days(default: int = DEFAULT_LOOKBACK_DAYS, environ: Mapping[str, str] | None = None) -> int:
    """Days the nightly schedules re-materialize (``FLEET_LOOKBACK_DAYS``): late data keeps arriving."""
    raw = _raw(LOOKBACK_ENV, environ)
    if raw is None or raw.strip() == "":
        return default
    value = int(raw)
    if value < 1:
        raise ValueError(f"{LOOKBACK_ENV} must be >= 1, got {raw!r}")
    return value


# --- deployed mode: object storage and shared state --------------------------------------------
STORAGE_URL_ENV = "FLEET_STORAGE_URL"
STATE_URL_ENV = "FLEET_STATE_URL"


def storage_url(environ: Mapping[str, str] | None = None) -> str | None:
    """Where datasets, raw fetches and the landing zone live: ``s3://bucket/prefix`` or ``file:///path``.

    None when unset: the data directory itself (the embedded layout). The S3 endpoint, region and
    credentials come from the standard AWS variables (``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``,
    ``AWS_REGION``, ``AWS_ACCESS_KEY_ID``...), which boto3 resolves itself.
    """
    return (_raw(STORAGE_URL_ENV, environ) or "").strip() or None


def state_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``postgresql://...`` for the shared state (ledger, ingest log, device keys), or None = embedded."""
    return (_raw(STATE_URL_ENV, environ) or "").strip() or None


# --- providers (Motive, Samsara) ---------------------------------------------------------------
# The variable names belong to each client class (``credential_env_var``, ``base_url_env_var``);
# these functions only read them.


def is_set(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a variable holds a non-empty value (decides ``dg.EnvVar`` binding vs the sandbox)."""
    return bool(_raw(name, environ))


def provider_credential(env_var: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A provider credential from its variable: None when unset; blank is returned as is (the caller refuses it)."""
    return _raw(env_var, environ)


def provider_base_url(env_var: str, environ: Mapping[str, str] | None = None) -> str | None:
    """A provider's API root chosen by environment (e.g. Samsara's EU host), or None."""
    return (_raw(env_var, environ) or "").strip() or None


# --- analytics (IcsAnalytics) --------------------------------------------------------------------
ANALYTICS_ENDPOINT_ENV_VARS = ("GRAPH_SERVICE_URL", "GRAPH_ENDPOINT")  # IcsAnalytics' own names, in its order
ANALYTICS_TOKEN_ENV_VAR = "SEC_AUTH_TOKEN"  # IcsAnalytics' bearer token (optional)


def analytics_endpoint_env_var() -> str | None:
    """The first of ``ANALYTICS_ENDPOINT_ENV_VARS`` that is set (non-empty), or None."""
    return next((name for name in ANALYTICS_ENDPOINT_ENV_VARS if is_set(name)), None)


def analytics_endpoint() -> str | None:
    """The analytics endpoint from the environment, or None (= the embedded sandbox backend)."""
    name = analytics_endpoint_env_var()
    return _raw(name, None) if name else None


def env_secret(name: str) -> str | None:
    """The secret in ``name`` (None if unset or empty): for a CLI, which has no EnvVar binding."""
    return _raw(name, None) or None



# --- processing ----------------------------------------------------------------------------------
SHARD_WORKERS_ENV = "FLEET_SHARD_WORKERS"


def shard_workers(environ: Mapping[str, str] | None = None) -> int | None:
    """Worker processes that normalize a day's shards in parallel (``FLEET_SHARD_WORKERS``).

    None when unset: one per available CPU, at most one per shard. ``1`` keeps every shard in the
    asset's own process (no worker processes). Each worker holds one shard (~1 GB at the default shard
    size), so a pod needs about that much memory per worker.
    """
    raw = (_raw(SHARD_WORKERS_ENV, environ) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{SHARD_WORKERS_ENV} must be a whole number >= 1, got {raw!r}")
    return value
