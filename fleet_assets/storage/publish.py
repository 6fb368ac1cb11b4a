"""The one way a daily partition is published: check, write atomically, read back, re-check.

Used by every daily Parquet asset (provider, telemetry and edge branches).
A blocking Dagster check stops downstream steps but cannot undo a write, so
the rules run first on the in-memory table: any failure raises
:class:`ValidationError` naming every failed rule and nothing is written (the
previous partition stays). The partition is then replaced atomically
(:func:`write_partition`), read back and checked again, so the results the
asset checks report describe what actually landed in Parquet (types after the
Parquet round trip included), not what was meant to be written.

The rules are passed in (``DatasetRules`` from ``fleet_assets.transforms.rules``
or anything with the same ``evaluate``), so storage stays a plain library:
no Dagster, no transforms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pyarrow as pa

from fleet_assets.storage.parquet_partitions import Dataset, PartitionWrite, read_partition, write_partition


class ValidationError(ValueError):
    """A table violates a data-quality rule; raised before anything is written."""


class Rules(Protocol):
    dataset: str

    def evaluate(self, table: pa.Table, day: str | date) -> Mapping[str, tuple[bool, dict]]: ...


@dataclass(frozen=True)
class Published:
    written: PartitionWrite
    table: pa.Table  # the partition as read back from Parquet
    checks: Mapping[str, tuple[bool, dict]]  # rule name -> (passed, metadata), evaluated on ``table``


def validate_or_raise(table: pa.Table, day: str | date, rules: Rules) -> None:
    """Raise ``ValidationError`` listing every failed rule of ``rules`` on ``table``."""
    failed = {name: meta for name, (ok, meta) in rules.evaluate(table, day).items() if not ok}
    if failed:
        raise ValidationError(f"{rules.dataset} for {day} failed validation, nothing written: {failed}")


def publish_partition(dataset_root: Dataset, day: str | date, table: pa.Table, rules: Rules) -> Published:
    """Validate ``table`` (raise, nothing written), replace the partition of ``day``, read it back, re-check."""
    validate_or_raise(table, day, rules)
    written = write_partition(dataset_root, day, table)
    landed = read_partition(dataset_root, day)
    return Published(written=written, table=landed, checks=rules.evaluate(landed, day))
