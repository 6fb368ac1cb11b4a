"""Load a date range of a dataset into pandas (the seed's ``load_date_range``).

Reads only the partition files inside the range, so the cost follows the
range, not the history size.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fleet_assets.warehouse.resources import FleetStorage
from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.parquet_partitions import PART_FILE, list_partitions, partition_dir


def _key(value: str | date) -> str:
    return value.isoformat() if isinstance(value, date) else date.fromisoformat(value).isoformat()


def load_date_range(
    start: str | date,
    end: str | date,
    dataset: str = "telemetry",
    data_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Rows of ``dataset`` for the UTC days ``start``..``end`` (both inclusive), sorted as stored.

    ``data_dir`` defaults to ``FLEET_DATA_DIR``. An empty range returns an
    empty frame with the dataset's columns (telemetry schema for telemetry).
    """
    lo, hi = _key(start), _key(end)
    if lo > hi:
        raise ValueError(f"start {lo} is after end {hi}")
    storage = FleetStorage(data_dir=str(data_dir)) if data_dir is not None else FleetStorage()
    root = storage.dataset(dataset)
    keys = [k for k in list_partitions(root) if lo <= k <= hi]
    tables = [pq.read_table(partition_dir(root, k) / PART_FILE) for k in keys]
    if not tables:
        schema = TELEMETRY_SCHEMA if dataset == "telemetry" or dataset.startswith("normalized_") else pa.schema([])
        return schema.empty_table().to_pandas()
    return pa.concat_tables(tables).to_pandas()
