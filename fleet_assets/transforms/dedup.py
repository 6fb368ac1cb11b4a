"""Deduplicate unified telemetry rows without losing real points.

Key: (vehicle identity, timestamp), where vehicle identity is the VIN when
the row has one and ``provider:provider_vehicle_id`` otherwise.

Why not the seed's (vin, timestamp)? Every VIN-less vehicle would share the
null VIN, so two different trucks reporting at the same second would collapse
into one row (a real point lost). Why not the hub's (provider,
provider_vehicle_id, timestamp)? A truck reported by both Motive and Samsara
(or by our edge collector) would appear twice at the same instant (a
duplicate). The VIN is the only cross-provider identity; without one, the
provider's own id is the only safe identity (a VIN-less vehicle in two
providers stays two vehicles, which can double-count but never loses data).

Which row survives a collision:
1. the higher-priority provider (``PROVIDER_PRIORITY``: samsara, motive,
   edge; Samsara's odometer/speed units are documented, Motive's odometer
   units are not, edge rows carry no driver or place enrichment);
2. within the same provider, the row that comes *later* in the input: callers
   concatenate older fetches first, so the latest fetch wins.

Output is sorted by (vehicle identity, timestamp) so identical inputs give
byte-identical Parquet files.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PROVIDER_PRIORITY: tuple[str, ...] = ("samsara", "motive", "edge")


@dataclass(frozen=True)
class DedupResult:
    table: pa.Table
    duplicates: int  # rows dropped


def vehicle_identity(table: pa.Table) -> pa.ChunkedArray:
    """VIN when present, else ``provider:provider_vehicle_id`` (a VIN never contains ':')."""
    fallback = pc.binary_join_element_wise(table["provider"], table["provider_vehicle_id"], ":")
    return pc.coalesce(table["vin"], fallback)


def dedup_telemetry(table: pa.Table, priority: tuple[str, ...] = PROVIDER_PRIORITY) -> DedupResult:
    """Drop duplicate (vehicle identity, timestamp) rows; see the module docstring for the rules."""
    n = table.num_rows
    if n == 0:
        return DedupResult(table, 0)
    code = _identity_codes(table)
    ts = pc.cast(table["timestamp"], pa.int64()).to_numpy(zero_copy_only=False)
    rank = _provider_ranks(table["provider"], priority)
    keep = _winners(code, ts, rank, len(priority) + 1)
    return DedupResult(take_rows(table, keep), int(n - len(keep)))


def _identity_codes(table: pa.Table) -> np.ndarray:
    """Per row, the rank of its ``vehicle_identity`` among the distinct identities (int64).

    Same codes as ranking ``vehicle_identity(table)``, without building a
    row-sized string column: VINs are dictionary-encoded as they are, only
    VIN-less rows get a ``provider:id`` string, and the two small
    dictionaries are ranked together (a VIN equal to a fallback string still
    gets the same code, exactly as ``coalesce`` would).
    """
    vin = pc.dictionary_encode(table["vin"]).combine_chunks()
    vin_idx = vin.indices
    if vin_idx.null_count == 0:
        return _string_ranks(vin.dictionary)[vin_idx.to_numpy()]
    rows = pc.indices_nonzero(pc.is_null(vin_idx))
    fallback = pc.binary_join_element_wise(pc.take(table["provider"], rows), pc.take(table["provider_vehicle_id"], rows), ":")
    fb = pc.dictionary_encode(fallback).combine_chunks()
    if fb.indices.null_count:  # null provider or id: let the row-sized path report it as before
        identity = pc.dictionary_encode(vehicle_identity(table).combine_chunks())
        return _string_ranks(identity.dictionary)[identity.indices.to_numpy()]
    both = pc.dictionary_encode(pa.concat_arrays([vin.dictionary, fb.dictionary]))
    key_code = _string_ranks(both.dictionary)[both.indices.to_numpy()]
    n_vin = len(vin.dictionary)
    code = np.append(key_code[:n_vin], -1)[pc.fill_null(vin_idx, n_vin).to_numpy()]  # -1: overwritten below
    code[rows.to_numpy()] = key_code[n_vin:][fb.indices.to_numpy()]
    return code


def _string_ranks(dictionary: pa.Array) -> np.ndarray:
    """0-based ascending rank of each (distinct) string, as int64."""
    return (pc.rank(dictionary, sort_keys="ascending", tiebreaker="first").to_numpy() - 1).astype(np.int64)


def _provider_ranks(provider: pa.ChunkedArray, priority: tuple[str, ...]) -> np.ndarray:
    """Index of each row's provider in ``priority``; unknown or null providers rank last.

    Looks up the few distinct providers, not every row.
    """
    enc = pc.dictionary_encode(provider).combine_chunks()
    known = pc.fill_null(pc.index_in(enc.dictionary, pa.array(list(priority), pa.string())), len(priority))
    lookup = np.append(known.to_numpy(zero_copy_only=False), len(priority)).astype(np.int64)
    return lookup[pc.fill_null(enc.indices, len(enc.dictionary)).to_numpy()]


def _winners(code: np.ndarray, ts: np.ndarray, rank: np.ndarray, ranks: int) -> np.ndarray:
    """Row indices of the surviving rows, in (identity, timestamp) order.

    Packs (identity, timestamp, inverted priority) into one int64 when it fits
    (always for a day of data: ~37 bits of microseconds) and stable-argsorts
    it in input order: each (identity, timestamp) group then ends with its
    best-priority, latest row, which is the one kept. Input that arrives per
    vehicle in time order is nearly sorted, which the stable (Timsort) argsort
    exploits. Otherwise falls back to a multi-key lexsort.
    """
    n = len(ts)
    dt = ts - ts.min()
    span = int(dt.max()) + 1
    if (int(code.max()) + 1) * span * ranks < (1 << 62):
        key = code * span
        key += dt
        key *= ranks
        key += (ranks - 1) - rank
        order = np.argsort(key, kind="stable")
        group = np.take(key, order, out=dt)
        group //= ranks
        last = np.empty(n, dtype=bool)
        last[-1] = True
        np.not_equal(group[:-1], group[1:], out=last[:-1])
        return order[last]
    reversed_idx = np.arange(n - 1, -1, -1, dtype=np.int64)
    prefer = reversed_idx[np.argsort(rank[reversed_idx], kind="stable")]
    order = prefer[np.lexsort((ts[prefer], code[prefer]))]
    pairs = np.stack([code[order], ts[order]], axis=1)
    group = np.unique(pairs, axis=0, return_inverse=True)[1].ravel()
    first = np.empty(n, dtype=bool)
    first[0] = True
    np.not_equal(group[1:], group[:-1], out=first[1:])
    return order[first]


def take_rows(table: pa.Table, indices: np.ndarray) -> pa.Table:
    """``table.take`` with one thread per column up to Arrow's CPU count (Arrow's take is single-threaded;
    it releases the GIL).

    Columns are taken as they are, chunked or not: Arrow's chunked take is
    about as fast as a contiguous one and skips a full copy of the column
    (``combine_chunks``). The result has one chunk per column either way.
    """
    if len(indices) == table.num_rows and np.array_equal(indices, np.arange(table.num_rows)):
        return table
    idx = pa.array(indices)
    threads = min(8, pa.cpu_count())  # 1 in a shard worker process (one process per core already)
    if threads == 1:
        return table.take(idx)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        columns = list(pool.map(lambda col: col.take(idx), table.columns))
    return pa.Table.from_arrays(columns, schema=table.schema)
