"""Shared platform state in PostgreSQL (deployed mode): a plain library, no Dagster."""
