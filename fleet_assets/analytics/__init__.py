"""GraphQL analytics upload, wire-compatible with IcsAnalytics (issue 6).

Modules, one concern each: ``sdl`` (the schema), ``operations`` (the exact
documents IcsAnalytics sends and their coalesced form), ``records`` (pure Arrow transforms),
``identity`` (vehicle → IcsAnalytics ids), ``wire_items`` and ``batching``
(wire payloads, deterministic batches), ``ledger`` (durable DuckDB ledger),
``sender`` (gql, retries, error classification), ``uploader`` (one
partition exactly once, bisection), ``sandbox_server`` and ``faults``
(embedded backend with fault injection), ``metadata`` and ``defs``
(Dagster), ``cli`` (the same upload from a shell).
"""
