"""Where the platform keeps its data: one data directory, one layout.

Everything lives under one data directory (``FLEET_DATA_DIR``, default
``./data``): Parquet datasets (the source of truth), raw provider fetches, the
DuckDB catalog of read views, the analytics upload ledger and the trip landing
zone. A plain class, so the ``fleet-storage`` CLI and library callers use it
without importing Dagster; the Dagster resource (``FleetStorage``) only
builds one from its config. A future object-storage backend replaces this
class, not its callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fleet_assets.settings import data_dir as default_data_dir


@dataclass(frozen=True)
class DataLayout:
    """Paths of every store, derived from one ``data_dir`` (default ``$FLEET_DATA_DIR`` or ``./data``)."""

    data_dir: str | Path | None = None

    def __post_init__(self) -> None:
        if self.data_dir is None:  # resolved once, at construction, like the resource's default
            object.__setattr__(self, "data_dir", default_data_dir())

    @property
    def root(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def parquet_dir(self) -> Path:
        return self.root / "parquet"

    def dataset(self, name: str) -> Path:
        """Root of a Hive-partitioned Parquet dataset, e.g. ``dataset('telemetry')``."""
        return self.parquet_dir / name

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
