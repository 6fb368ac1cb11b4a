"""The daily provider pipeline: raw fetch -> normalized_* -> telemetry -> DuckDB catalog."""
