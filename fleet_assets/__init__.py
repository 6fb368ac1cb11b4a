"""Fleet telemetry platform: a Dagster code location."""
