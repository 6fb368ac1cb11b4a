"""The Dagster resource for the data directory: config around the storage library's layout.

The layout itself (which path holds what) is defined once in
:mod:`fleet_assets.storage.layout`, which never imports Dagster; this resource
only makes ``data_dir`` configurable in Dagster and hands out that layout.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from fleet_assets import settings
from fleet_assets.storage.layout import DataLayout
from fleet_assets.storage.objects import StoreDir, ensure_conditional_writes


class FleetStorage(dg.ConfigurableResource):
    """Paths of every store, derived from one ``data_dir`` (see ``DataLayout``)."""

    data_dir: str = Field(default_factory=settings.data_dir,
                          description="Local data directory: all data on embedded defaults, host-local files otherwise.")
    storage_url: str | None = Field(
        default_factory=settings.storage_url,
        description="Object store for datasets, raw fetches and the landing zone (s3://bucket/prefix); "
                    "unset = the data directory.")


    _layout: DataLayout | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """On object storage, refuse at start-up a bucket that ignores conditional writes (once per process)."""
        ensure_conditional_writes(self.layout.store)

    @property
    def layout(self) -> DataLayout:
        # The state URL may carry a password, so it is read from FLEET_STATE_URL at run time and never
        # becomes resource config (which the UI shows). Built once: its store holds one S3 client.
        if self._layout is None:
            self._layout = DataLayout(self.data_dir, storage_url=self.storage_url, state_url=settings.state_url())
        return self._layout

    # The locations asset code uses, straight from the layout (defined there, not here).
    @property
    def root(self) -> Path:
        return self.layout.root

    def dataset(self, name: str) -> StoreDir:
        return self.layout.dataset(name)

    @property
    def raw_dir(self) -> StoreDir:
        return self.layout.raw_dir

    @property
    def duckdb_path(self) -> Path:
        return self.layout.duckdb_path

    @property
    def ledger_path(self) -> Path:
        return self.layout.ledger_path

    @property
    def landing_dir(self) -> Path:
        return self.layout.landing_dir
