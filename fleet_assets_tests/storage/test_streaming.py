"""Streamed partitions on both backends: the writer publishes once or not at all, the reader streams row groups,
shard-by-shard publishing checks each shard and the day (no key in two shards) and re-checks what landed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.parquet_partitions import (
    iter_partition_batches,
    open_partition,
    partition_writer,
    read_partition,
    shard_row_groups,
    write_partition,
)
from fleet_assets.storage.publish import ValidationError, publish_shards
from fleet_assets.transforms.rules import DATASET_RULES

DAY = "2026-01-01"


def _vehicle(rows: pa.Table, vin: str) -> pa.Table:
    return rows.set_column(rows.schema.get_field_index("vin"), "vin", pa.array([vin] * rows.num_rows, pa.string()))


def test_writer_streams_row_groups_and_publishes_once(layout, make_rows):
    dataset = layout.dataset("telemetry")
    write_partition(dataset, DAY, make_rows(DAY, 2))
    parts = [make_rows(DAY, 5), make_rows(DAY, 0), make_rows(DAY, 7)]
    with partition_writer(dataset, DAY, TELEMETRY_SCHEMA) as out:
        for i, part in enumerate(parts):
            out.write(part, shard=i, shards=3)
            assert read_partition(dataset, DAY).num_rows == 2  # nothing visible before the block ends
    assert out.result.rows == 12 and read_partition(dataset, DAY).equals(pa.concat_tables(parts))
    with open_partition(dataset, DAY) as pf:
        assert pf.metadata.num_row_groups == 2
        assert shard_row_groups(pf) == (3, {0: [0], 1: [], 2: [1]})
        assert pf.read_row_groups([1]).equals(parts[2])
    batches = list(iter_partition_batches(dataset, DAY, batch_size=4))
    assert sum(b.num_rows for b in batches) == 12 and max(b.num_rows for b in batches) <= 4
    assert layout.store.list("parquet") == [f"parquet/telemetry/date={DAY}/part-0.parquet"]  # no staging left


def test_writer_publishes_nothing_when_the_block_fails(layout, make_rows):
    dataset = layout.dataset("telemetry")
    write_partition(dataset, DAY, make_rows(DAY, 2))
    with pytest.raises(RuntimeError, match="boom"):
        with partition_writer(dataset, DAY, TELEMETRY_SCHEMA) as out:
            out.write(make_rows(DAY, 9))
            raise RuntimeError("boom")
    assert read_partition(dataset, DAY).equals(make_rows(DAY, 2)) and out.result is None
    assert layout.store.list("parquet") == [f"parquet/telemetry/date={DAY}/part-0.parquet"]
    with partition_writer(dataset, "2026-01-02", TELEMETRY_SCHEMA):
        pass  # no writes: an empty day is still a partition
    assert read_partition(dataset, "2026-01-02").num_rows == 0
    with open_partition(dataset, "2026-01-03") as pf:
        assert pf is None
    assert list(iter_partition_batches(dataset, "2026-01-03")) == []


def test_shard_writes_must_agree(tmp_path, make_rows):
    with pytest.raises(ValueError, match="shard 1 of 4 does not fit this partition's 2 shards"):
        with partition_writer(tmp_path / "t", DAY) as out:
            out.write(make_rows(DAY, 1), shard=0, shards=2)
            out.write(make_rows(DAY, 1), shard=1, shards=4)
    assert read_partition(tmp_path / "t", DAY) is None


def test_publish_shards_checks_each_shard_and_the_day(layout, make_rows):
    dataset, rules = layout.dataset("telemetry"), DATASET_RULES["telemetry"]
    a, b = _vehicle(make_rows(DAY, 4), "VINA0000000000001"), _vehicle(make_rows(DAY, 3), "VINB0000000000001")
    seen = []
    published = publish_shards(dataset, DAY, [a, b], rules, schema=TELEMETRY_SCHEMA, shard_count=2,
                               on_landed=lambda t: seen.append(t.num_rows))
    assert seen == [4, 3] and published.table is None and published.written.rows == 7
    ok, meta = published.checks["no_duplicate_keys"]
    assert ok and meta == {"duplicate_keys": 0, "null_keys": 0, "keys_in_several_shards": 0}
    assert published.checks["timestamps_in_partition_day"][1]["rows_outside_day"] == 0
    # the same vehicle in two shards: each shard is clean, the day is not (its duplicates would be missed)
    with pytest.raises(ValidationError, match="'keys_in_several_shards': 1"):
        publish_shards(dataset, DAY, [a, a.slice(1, 1)], rules, schema=TELEMETRY_SCHEMA, shard_count=2)
    # a bad shard after good ones: nothing written
    bad = b.set_column(b.schema.get_field_index("latitude"), "latitude", pc.add(b["latitude"], 100.0)).cast(TELEMETRY_SCHEMA)
    with pytest.raises(ValidationError, match=r"telemetry for 2026-01-01 \(shard 1 of 2\) failed validation, nothing written: .*coordinates_in_range"):
        publish_shards(dataset, DAY, [a, bad], rules, schema=TELEMETRY_SCHEMA, shard_count=2)
    assert read_partition(dataset, DAY).num_rows == 7
    assert layout.store.list("parquet") == [f"parquet/telemetry/date={DAY}/part-0.parquet"]
