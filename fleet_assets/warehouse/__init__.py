"""Warehouse area: the DuckDB catalog asset, storage retention and the ``FleetStorage`` resource every area uses."""
