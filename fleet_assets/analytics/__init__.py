"""GraphQL analytics upload, wire-compatible with IcsAnalytics (issue 6).

Modules, one concern each:

- wire: ``sdl`` (the schema), ``operations`` (the exact documents IcsAnalytics
  sends and their coalesced form);
- data: ``records`` (pure Arrow transforms), ``identity`` (vehicle →
  IcsAnalytics ids), ``wire_items`` and ``batching`` (wire payloads,
  deterministic batches);
- upload: ``upload_settings`` (every setting, declared once), ``ledger_queries``
  (the durable ledger's interface and every query), ``ledger`` (its DuckDB
  file) and ``ledger_postgres`` (its PostgreSQL store, ``FLEET_STATE_URL``),
  ``sender`` (gql, retries, error classification),
  ``id_resolution`` (configuration and message ids), ``delivery`` (send,
  bisect, settle), ``uploader`` (one partition exactly once),
  ``upload_report``, ``wiring`` (an upload built from settings);
- ``sandbox/`` (the embedded backend, with fault injection);
- Dagster: ``resources`` (``AnalyticsResource``, fields derived from the
  settings), ``assets``, ``upload_metadata``, ``defs``; ``cli`` (the same
  upload from a shell, flags derived from the settings).

Only ``resources``, ``assets``, ``upload_metadata`` and ``defs`` import Dagster (``cli`` reaches it through
``FleetStorage`` until storage is a library of its own, issue 13 item 3).
"""
