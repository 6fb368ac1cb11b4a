"""The one publish path: check, write atomically, read back, re-check; both branches use it."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest

import fleet_assets
from fleet_assets.storage.parquet_partitions import PART_FILE, partition_dir, read_partition
from fleet_assets.storage.publish import ValidationError, publish_partition
from fleet_assets.transforms.rules import DATASET_RULES

DAY = "2026-03-01"
TS = pa.timestamp("us", tz="UTC")
PACKAGE = Path(fleet_assets.__file__).parent


def _dtcs(seqs, day=1):
    return pa.table({"vin": ["V"] * len(seqs), "trip_id": ["t"] * len(seqs), "seq": pa.array(seqs, pa.int64()),
                     "ts": pa.array([datetime(2026, 3, day, 12, tzinfo=UTC)] * len(seqs), TS),
                     "code": ["P0301"] * len(seqs), "description": [""] * len(seqs), "status": ["stored"] * len(seqs)})


def test_publish_writes_reads_back_and_reports_the_checks_of_what_landed(tmp_path):
    published = publish_partition(tmp_path / "edge_dtcs", DAY, _dtcs([1, 2]), DATASET_RULES["edge_dtcs"])
    assert published.written.path == partition_dir(tmp_path / "edge_dtcs", DAY) / PART_FILE
    assert published.table.equals(read_partition(tmp_path / "edge_dtcs", DAY))
    assert {name: ok for name, (ok, _) in published.checks.items()} == {"no_duplicate_trip_seq": True,
                                                                       "ts_within_day": True}


@pytest.mark.parametrize("bad, failing", [(_dtcs([1, 1]), "no_duplicate_trip_seq"),
                                          (_dtcs([1], day=2), "ts_within_day")])
def test_a_failing_rule_raises_and_keeps_the_previous_partition(tmp_path, bad, failing):
    root = tmp_path / "edge_dtcs"
    publish_partition(root, DAY, _dtcs([1, 2]), DATASET_RULES["edge_dtcs"])
    before = (partition_dir(root, DAY) / PART_FILE).read_bytes()
    with pytest.raises(ValidationError, match=f"edge_dtcs for {DAY} failed validation, nothing written: .*{failing}"):
        publish_partition(root, DAY, bad, DATASET_RULES["edge_dtcs"])
    assert (partition_dir(root, DAY) / PART_FILE).read_bytes() == before
    assert [p.name for p in partition_dir(root, DAY).iterdir()] == [PART_FILE]


def test_a_failing_rule_on_a_new_day_writes_nothing(tmp_path):
    with pytest.raises(ValidationError):
        publish_partition(tmp_path / "edge_dtcs", DAY, _dtcs([1, 1]), DATASET_RULES["edge_dtcs"])
    assert not (tmp_path / "edge_dtcs").exists() or not any((tmp_path / "edge_dtcs").rglob("*.parquet"))


def _calls(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            names.add(node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", ""))
    return names


def test_both_branches_publish_through_the_one_function_and_nothing_else_writes_partitions():
    """Import graph: provider and trip assets publish through publish_shards (publish_partition is its one-shard
    case); only storage calls write_partition / partition_writer."""
    assert "publish_shards" in _calls(PACKAGE / "provider_ingest" / "assets.py")
    assert _calls(PACKAGE / "trips" / "assets.py") & {"publish_partition", "publish_shards"}
    assert "publish_shards" in _calls(PACKAGE / "storage" / "publish.py")
    writers = {str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if p.parent.name != "storage" and _calls(p) & {"write_partition", "partition_writer"}}
    assert writers == set()
