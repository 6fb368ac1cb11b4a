"""Shards of a day: every row of one vehicle identity in the same, small, independent piece.

A day is split into ``N`` shards (a power of two, chosen from its size so a
shard holds about :data:`SHARD_ROWS` points) by a stable hash of the dedup
identity (VIN, else ``provider:provider_vehicle_id``; ``transforms.dedup``).
Dedup by (identity, timestamp) is therefore exact shard by shard, and so are
the per-vehicle joins (Samsara engine state as-of, odometer nearest, driver
assignments, the previous-day state window): a vehicle's readings and
assignments travel with its points. CRC-32 of the UTF-8 identity is stable
across processes and machines (unlike ``hash()``), and with power-of-two
counts shard ``k`` of ``N`` is the union of shards ``k, k+N, ...`` of a larger
count, so datasets sharded differently can still be combined shard by shard.
"""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.transforms.common import blank_to_null
from fleet_assets.transforms.dedup import vehicle_identity

SHARD_ROWS = 500_000  # points per shard: ~0.3 GB of transient Arrow/numpy state through normalize + dedup


def shard_count(points: int, target_rows: int = SHARD_ROWS) -> int:
    """The power of two ``N >= points / target_rows`` (at least 1)."""
    need = max(1, -(-points // max(1, target_rows)))
    return 1 << (need - 1).bit_length()


def _check(shards: int) -> None:
    if shards < 1 or shards & (shards - 1):
        raise ValueError(f"shard count must be a power of two, got {shards}")


def shard_of_strings(values: pa.Array | pa.ChunkedArray, shards: int) -> np.ndarray:
    """Shard of each identity string (hashes the distinct values only); a null identity goes to shard 0."""
    _check(shards)
    if shards == 1 or len(values) == 0:
        return np.zeros(len(values), dtype=np.int64)
    enc = pc.dictionary_encode(values)
    enc = enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc
    lookup = np.array([zlib.crc32(v.encode()) & (shards - 1) for v in enc.dictionary.to_pylist()] + [0], dtype=np.int64)
    return lookup[pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy(zero_copy_only=False)]


def shard_of_rows(table: pa.Table, shards: int) -> np.ndarray:
    """Shard of each unified-schema row."""
    if shards == 1:
        return np.zeros(table.num_rows, dtype=np.int64)
    return shard_of_strings(vehicle_identity(table), shards)


def split_by_shard(table: pa.Table, shard: np.ndarray, shards: int) -> list[pa.Table]:
    """``shards`` tables; rows keep their input order inside each (dedup's later-wins rule depends on it)."""
    if shards == 1:
        return [table]
    order = np.argsort(shard, kind="stable")
    bounds = np.searchsorted(shard[order], np.arange(shards + 1))
    taken = table.take(pa.array(order))
    return [taken.slice(bounds[k], bounds[k + 1] - bounds[k]) for k in range(shards)]


def identity_shards(provider: str, ids: list[str], vins: list[str | None], shards: int) -> dict[str, int]:
    """Shard per provider vehicle id: VIN of its FIRST record (blank = none, as the transforms clean it), else
    ``provider:id`` — the identity its normalized rows will carry."""
    first: dict[str, str | None] = {}
    for vid, vin in zip(ids, vins):
        first.setdefault(vid, vin)
    keys = list(first)
    vin = blank_to_null(pa.array([first[k] for k in keys], pa.string()))
    identity = pc.coalesce(vin, pa.array([f"{provider}:{k}" for k in keys], pa.string()))
    return dict(zip(keys, shard_of_strings(identity, shards).tolist()))
