"""Where the platform keeps its data.

Everything lives under one data directory (``FLEET_DATA_DIR``, default
``./data``): Parquet datasets (the source of truth), the DuckDB catalog of
read views, the analytics upload ledger and the trip landing zone.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from fleet_assets import settings


class FleetStorage(dg.ConfigurableResource):
    """Paths of every store, derived from one ``data_dir``."""

    data_dir: str = Field(default_factory=settings.data_dir, description="Root of all platform data.")

    @property
    def root(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    def dataset(self, name: str) -> Path:
        """Root of a Hive-partitioned Parquet dataset, e.g. ``dataset('telemetry')``."""
        return self.root / "parquet" / name

    @property
    def raw_dir(self) -> Path:
        return self.root / "raw"

    @property
    def duckdb_path(self) -> Path:
        """DuckDB catalog: views over the Parquet datasets (rebuilt by one serialized writer)."""
        return self.root / "warehouse.duckdb"

    @property
    def ledger_path(self) -> Path:
        """DuckDB file holding the analytics upload ledger."""
        return self.root / "analytics_ledger.duckdb"

    @property
    def landing_dir(self) -> Path:
        """Landing zone for trip chunks uploaded by edge collectors."""
        return self.root / "landing"
