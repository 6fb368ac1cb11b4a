"""Load a date range of a dataset into pandas (the seed's ``load_date_range``).

Reads only the partitions inside the range (one listing, then one read per
day), so the cost follows the range, not the history size; works on local disk
and object storage alike.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from fleet_assets.days import partition_key
from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.layout import DataLayout
from fleet_assets.storage.parquet_partitions import list_partitions, read_partition


def load_date_range(
    start: str | date,
    end: str | date,
    dataset: str = "telemetry",
    data_dir: str | Path | None = None,
    *,
    layout: DataLayout | None = None,
) -> pd.DataFrame:
    """Rows of ``dataset`` for the UTC days ``start``..``end`` (both inclusive), sorted as stored.

    ``layout`` (or else ``data_dir`` and the environment: ``FLEET_DATA_DIR``, ``FLEET_STORAGE_URL``) says
    where the data lives. An empty range returns an empty frame with the dataset's columns (telemetry schema for telemetry).
    """
    lo, hi = partition_key(start), partition_key(end)
    if lo > hi:
        raise ValueError(f"start {lo} is after end {hi}")
    root = (layout or DataLayout.from_settings(data_dir)).dataset(dataset)
    tables = [read_partition(root, k) for k in list_partitions(root) if lo <= k <= hi]
    tables = [t for t in tables if t is not None]  # a day deleted between listing and reading
    if not tables:
        schema = TELEMETRY_SCHEMA if dataset == "telemetry" or dataset.startswith("normalized_") else pa.schema([])
        return schema.empty_table().to_pandas()
    return pa.concat_tables(tables).to_pandas()
