"""Provider ingest area: Motive and Samsara fetched per UTC day -> raw -> normalized_* -> telemetry."""
