"""The one way a daily partition is published: check, write atomically, read back, re-check.

Used by every daily Parquet asset (provider, telemetry and edge branches).
A blocking Dagster check stops downstream steps but cannot undo a write, so
the rules run first on the in-memory table: any failure raises
:class:`ValidationError` naming every failed rule and nothing is written (the
previous partition stays). The partition is then replaced atomically
(:func:`write_partition`), read back and checked again, so the results the
asset checks report describe what actually landed in Parquet (types after the
Parquet round trip included), not what was meant to be written.

A day too large for memory is published shard by shard (:func:`publish_shards`):
each shard is checked before it is appended to the staging file, the day's
combined results (cross-shard facts included, e.g. no vehicle in two shards)
are checked before the one atomic publish, and the landed file is read back
and re-checked shard by shard (its row groups), so memory is one shard's.
:func:`publish_partition` is the one-shard case of the same path.

The rules are passed in (``DatasetRules`` from ``fleet_assets.transforms.rules``
or anything with the same ``evaluate``), so storage stays a plain library:
no Dagster, no transforms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pyarrow as pa

from fleet_assets.storage.parquet_partitions import Dataset, PartitionWrite, open_partition, partition_writer, shard_row_groups


class ValidationError(ValueError):
    """A table violates a data-quality rule; raised before anything is written."""


class ShardedChecks(Protocol):
    def add(self, table: pa.Table) -> Mapping[str, tuple[bool, dict]]: ...
    def results(self) -> Mapping[str, tuple[bool, dict]]: ...


class Rules(Protocol):
    dataset: str

    def evaluate(self, table: pa.Table, day: str | date) -> Mapping[str, tuple[bool, dict]]: ...
    def sharded(self, day: str | date) -> ShardedChecks: ...


@dataclass(frozen=True)
class Published:
    written: PartitionWrite
    table: pa.Table | None  # the partition as read back from Parquet (None when published shard by shard)
    checks: Mapping[str, tuple[bool, dict]]  # rule name -> (passed, metadata), evaluated on what landed


def _raise_failed(results: Mapping[str, tuple[bool, dict]], what: str) -> None:
    failed = {name: meta for name, (ok, meta) in results.items() if not ok}
    if failed:
        raise ValidationError(f"{what} failed validation, nothing written: {failed}")


def validate_or_raise(table: pa.Table, day: str | date, rules: Rules) -> None:
    """Raise ``ValidationError`` listing every failed rule of ``rules`` on ``table``."""
    _raise_failed(rules.evaluate(table, day), f"{rules.dataset} for {day}")


def publish_shards(dataset_root: Dataset, day: str | date, shards: Iterable[pa.Table], rules: Rules, *,
                   schema: pa.Schema, shard_count: int | None = None,
                   on_landed: Callable[[pa.Table], None] | None = None) -> Published:
    """Validate and append each shard, publish the day atomically, then read back and re-check per shard.

    The k-th table of ``shards`` is shard k of ``shard_count`` (its row groups are indexed in the file,
    see :func:`shard_row_groups`); with ``shard_count=None`` the file is one unit. Any failed rule,
    on a shard or on the day's combined results, raises :class:`ValidationError` and nothing is
    published (the previous partition stays). ``on_landed`` sees each shard as read back (UI
    metadata: counts, span, preview) without the day ever being held.
    """
    what = f"{rules.dataset} for {day}"
    before = rules.sharded(day)
    with partition_writer(dataset_root, day, schema) as out:
        count = 0
        for count, table in enumerate(shards, start=1):
            _raise_failed(before.add(table), what if shard_count is None else f"{what} (shard {count - 1} of {shard_count})")
            out.write(table, shard=None if shard_count is None else count - 1, shards=shard_count)
        if count == 0:
            before.add(schema.empty_table())
        _raise_failed(before.results(), what)
    after = rules.sharded(day)
    with open_partition(dataset_root, day) as pf:
        index = shard_row_groups(pf)
        groups = list(index[1].values()) if index else [list(range(pf.metadata.num_row_groups))]
        for row_groups in groups or [[]]:
            landed = pf.read_row_groups(row_groups) if row_groups else pf.schema_arrow.empty_table()
            after.add(landed)
            if on_landed is not None:
                on_landed(landed)
    return Published(written=out.result, table=None, checks=after.results())


def publish_partition(dataset_root: Dataset, day: str | date, table: pa.Table, rules: Rules) -> Published:
    """Validate ``table`` (raise, nothing written), replace the partition of ``day``, read it back, re-check."""
    landed: list[pa.Table] = []
    published = publish_shards(dataset_root, day, [table], rules, schema=table.schema, on_landed=landed.append)
    return Published(written=published.written, table=landed[0], checks=published.checks)
