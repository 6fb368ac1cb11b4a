"""The Dagster resource for the data directory: config around the storage library's layout.

The layout itself (which path holds what) is defined once in
:mod:`fleet_assets.storage.layout`, which never imports Dagster; this resource
only makes ``data_dir`` configurable in Dagster and hands out that layout.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from fleet_assets import settings
from fleet_assets.storage.layout import DataLayout


class FleetStorage(dg.ConfigurableResource):
    """Paths of every store, derived from one ``data_dir`` (see ``DataLayout``)."""

    data_dir: str = Field(default_factory=settings.data_dir,
                          description="Local data directory: all data on embedded defaults, host-local files otherwise.")
    storage_url: str | None = Field(
        default_factory=lambda: settings.storage_url() if settings.is_set(settings.STORAGE_URL_ENV) else None,
        description="Object store for datasets, raw fetches and the landing zone (s3://bucket/prefix); "
                    "unset = the data directory.")


    @property
    def layout(self) -> DataLayout:
        # The state URL may carry a password, so it is read from FLEET_STATE_URL at run time and never
        # becomes resource config (which the UI shows).
        return DataLayout(self.data_dir, storage_url=self.storage_url, state_url=settings.state_url())

    # The paths asset code uses, straight from the layout (defined there, not here).
    @property
    def root(self) -> Path:
        return self.layout.root

    def dataset(self, name: str) -> Path:
        return self.layout.dataset(name)

    @property
    def raw_dir(self) -> Path:
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
