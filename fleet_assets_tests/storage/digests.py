"""What "the same outputs" means across storage modes and deployments: per dataset the row count and a hash of
the sorted content, per raw fetch the hash of each stored file. Shared by the deployed-mode acceptance test and
the two-host test."""

from __future__ import annotations

import hashlib

from fleet_assets.storage.catalog import connect_parquet
from fleet_assets.storage.raw_store import read_raw

DATASETS = ("normalized_motive", "normalized_samsara", "telemetry")


def output_digests(storage, days: list[str], datasets=DATASETS, providers=("motive", "samsara")) -> dict:
    """Row counts + sorted-content sha256 of ``datasets`` (all days), sha256 of every raw file of ``days``
    (of ``providers``)."""
    summary: dict = {}
    with connect_parquet(storage.layout.parquet_dir) as con:
        for name in datasets:
            rows = con.execute(f"SELECT * EXCLUDE (date), date::VARCHAR FROM {name} ORDER BY ALL").fetchall()
            summary[name] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
    for provider in providers:
        for day in days:
            files = read_raw(storage.raw_dir, provider, day).files
            summary[f"raw_{provider}/{day}"] = {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}
    return summary
