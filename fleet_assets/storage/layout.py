"""Where the platform keeps its data: one layout, on local disk or on object storage.

Embedded default: everything under one data directory (``FLEET_DATA_DIR``,
default ``./data``): Parquet datasets (the source of truth), raw provider
fetches, the trip landing zone, the DuckDB catalog of read views and the
analytics upload ledger. Deployed mode: the datasets, raw fetches and landing
zone live in the object store named by ``FLEET_STORAGE_URL`` (``s3://...``),
under the same keys (``parquet/<dataset>/date=...``, ``raw/...``,
``landing/...``), and the shared state in Postgres (``FLEET_STATE_URL``); the
data directory then only holds host-local derived files (the catalog).
A plain class, so the ``fleet-storage`` CLI and library callers use it without
importing Dagster; the Dagster resource (``FleetStorage``) only builds one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from fleet_assets import settings
from fleet_assets.storage.objects import LocalStore, ObjectStore, StoreDir, open_store

PARQUET_PREFIX = "parquet"
RAW_PREFIX = "raw"
LANDING_PREFIX = "landing"


@dataclass(frozen=True)
class DataLayout:
    """Every store, derived from ``data_dir`` (local), ``storage_url`` (files) and ``state_url`` (Postgres).

    ``storage_url`` None means the data directory itself (the embedded layout); ``state_url`` None means
    embedded state (DuckDB, SQLite and files under the data directory).
    """

    data_dir: str | Path | None = None
    storage_url: str | None = None
    state_url: str | None = None

    def __post_init__(self) -> None:
        if self.data_dir is None:  # resolved once, at construction, like the resource's default
            object.__setattr__(self, "data_dir", settings.data_dir())

    @classmethod
    def from_settings(cls, data_dir: str | Path | None = None) -> DataLayout:
        """The layout the environment names: ``FLEET_DATA_DIR``, ``FLEET_STORAGE_URL`` and ``FLEET_STATE_URL``."""
        return cls(data_dir, storage_url=settings.storage_url(), state_url=settings.state_url())

    @cached_property
    def store(self) -> ObjectStore:
        """Where datasets, raw fetches and the landing zone live (one object store, see ``objects``)."""
        if not self.storage_url:
            return LocalStore(self.root)
        return open_store(self.storage_url)

    @property
    def is_local(self) -> bool:
        return isinstance(self.store, LocalStore)

    def __getstate__(self) -> dict:  # the store (a boto3 client) is rebuilt after pickling, never shipped
        return {k: v for k, v in self.__dict__.items() if k != "store"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    @staticmethod
    def dataset_key(name: str) -> str:
        """Store key prefix of a Hive-partitioned Parquet dataset, e.g. ``parquet/telemetry``."""
        return f"{PARQUET_PREFIX}/{name}"

    @property
    def root(self) -> Path:
        return Path(self.data_dir).expanduser().resolve()

    @property
    def parquet_dir(self) -> StoreDir:
        """Where the Parquet datasets live (``parquet/`` in the store)."""
        return StoreDir(self.store, PARQUET_PREFIX)

    def dataset(self, name: str) -> StoreDir:
        """Root of a Hive-partitioned Parquet dataset, e.g. ``dataset('telemetry')``."""
        return StoreDir(self.store, self.dataset_key(name))

    @property
    def raw_dir(self) -> StoreDir:
        """The raw provider fetches (``raw/`` in the store)."""
        return StoreDir(self.store, RAW_PREFIX)

    @property
    def store_root(self) -> StoreDir:
        """The whole store (retention walks ``parquet/`` and ``raw/`` below it)."""
        return StoreDir(self.store)

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
