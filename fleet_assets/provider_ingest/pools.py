"""Provider rate budgets shared across runs and machines through Dagster's instance-wide pools.

Each provider's fetch asset is in a pool (``motive_api``, ``samsara_api``). Dagster enforces a pool's limit
through the instance database, so with limit N at most N fetches of that provider run at once, in any run on
any machine. Each fetch then takes 1/N of the provider's documented budget
(``ProviderClient.settings_for_share``), so N fetches together stay within it: no shared token bucket, no
extra service. Set a limit with ``dagster instance concurrency set motive_api N`` (deploy/dagster.yaml gives
unset pools 1).
"""

from __future__ import annotations

from typing import Any

PROVIDER_POOLS = {"motive": "motive_api", "samsara": "samsara_api"}  # provider -> pool of its fetch asset


def concurrent_fetches(instance: Any, provider: str) -> tuple[int, str] | None:
    """At most how many fetches of ``provider`` run at once on ``instance``, and what says so; None: unbounded.

    Bounds, smallest wins: the pool's limit (its own, else the instance's ``default_limit``) and the run
    queue's ``max_concurrent_runs`` (a run fetches one day: one fetch per provider). None when nothing bounds
    them (an ephemeral instance, or no limit anywhere).
    """
    pool = PROVIDER_POOLS[provider]
    bounds: list[tuple[int, str]] = []
    config = instance.get_concurrency_config()
    runs = getattr(config.run_queue_config, "max_concurrent_runs", None)
    if runs is not None and runs >= 0:
        bounds.append((runs, f"max_concurrent_runs is {runs}"))
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        own = {p.name: p.limit for p in storage.get_pool_limits() if not p.from_default}
        limit = own.get(pool, config.pool_config.default_pool_limit)
        if limit is not None:
            bounds.append((limit, f"pool {pool} has limit {limit}"))
    if not bounds:
        return None
    n, why = min(bounds)
    return max(1, n), why  # 0 would run nothing at all; a running fetch is at least one
