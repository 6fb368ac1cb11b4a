"""Retention refusals and the fleet-storage CLI on the embedded data dir (run as a real subprocess).

Retention and load_date_range themselves run on both backends in test_backends.py."""

import subprocess
import sys

import pandas as pd
import pytest

from fleet_assets.storage.parquet_partitions import list_partitions, write_partition
from fleet_assets.storage.raw_store import write_raw
from fleet_assets.storage.retention import delete_old_partitions

DAYS = ("2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04")


@pytest.fixture
def data_dir(tmp_path, make_rows):
    for day in DAYS:
        write_partition(tmp_path / "parquet" / "telemetry", day, make_rows(day, 5))
        write_raw(tmp_path / "raw", "motive", day, {"locations": b""}, {})
    return tmp_path


def test_negative_keep_days_rejected_and_nothing_deleted(data_dir):
    with pytest.raises(ValueError, match="keep_days must be >= 0"):
        delete_old_partitions(data_dir, -1)
    assert list_partitions(data_dir / "parquet" / "telemetry") == list(DAYS)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fleet_assets.storage.cli", *args], capture_output=True, text=True, timeout=60)


def test_cli_end_to_end(data_dir, tmp_path):
    assert "prune" in _cli("--help").stdout and "--keep-days" in _cli("prune", "--help").stdout
    listing = _cli("--data-dir", str(data_dir), "list")
    assert listing.returncode == 0 and "telemetry" in listing.stdout and "4 partitions" in listing.stdout
    out = tmp_path / "jan.parquet"
    load = _cli("--data-dir", str(data_dir), "load", "--start", "2026-01-01", "--end", "2026-01-02", "--out", str(out))
    assert load.returncode == 0, load.stderr
    assert len(pd.read_parquet(out)) == 10 and "wrote 10 rows" in load.stderr
    bad = _cli("--data-dir", str(data_dir), "load", "--start", "2026-01-02", "--end", "2026-01-01", "--out", str(tmp_path / "x.csv"))
    assert bad.returncode == 2 and "is after end" in bad.stderr and not (tmp_path / "x.csv").exists()
    catalog = _cli("--data-dir", str(data_dir), "rebuild-catalog")
    assert catalog.returncode == 0 and "view telemetry" in catalog.stdout
    dry = _cli("--data-dir", str(data_dir), "prune", "--keep-days", "0", "--dry-run")
    assert dry.returncode == 0 and "would delete parquet/telemetry/date=2026-01-01" in dry.stderr
    assert list_partitions(data_dir / "parquet" / "telemetry") == list(DAYS)
