"""Dagster resources (ConfigurableResource); nothing here opens a connection at import."""
