"""GraphQL analytics upload, wire-compatible with IcsAnalytics (issue 6).

Modules, one concern each: ``sdl`` (the schema), ``operations`` (the exact
documents IcsAnalytics sends), ``records`` (pure Arrow transforms),
``identity`` (vehicle → IcsAnalytics ids), ``batching`` (deterministic
batches), ``ledger`` (durable DuckDB ledger), ``sender`` (gql + retries +
bisection), ``uploader`` (one partition, exactly once), ``sandbox_server``
and ``faults`` (embedded backend with fault injection), ``defs`` (Dagster).
"""
