"""Retention, load_date_range and the fleet-storage CLI (run as a real subprocess)."""

import subprocess
import sys
from datetime import date

import pandas as pd
import pytest

from fleet_assets.storage.loading import load_date_range
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


def test_delete_old_partitions_dry_run_then_real(data_dir):
    today = date(2026, 1, 5)
    planned = delete_old_partitions(data_dir, 2, today=today, dry_run=True)
    assert {(e.area, e.day) for e in planned} == {(a, d) for a in ("parquet", "raw") for d in DAYS[:2]}
    assert list_partitions(data_dir / "parquet" / "telemetry") == list(DAYS)
    delete_old_partitions(data_dir, 2, today=today)
    assert list_partitions(data_dir / "parquet" / "telemetry") == list(DAYS[2:])
    assert sorted(p.name for p in (data_dir / "raw" / "motive").iterdir()) == [f"date={d}" for d in DAYS[2:]]


def test_negative_keep_days_rejected_and_nothing_deleted(data_dir):
    with pytest.raises(ValueError, match="keep_days must be >= 0"):
        delete_old_partitions(data_dir, -1)
    assert list_partitions(data_dir / "parquet" / "telemetry") == list(DAYS)


def test_load_date_range(data_dir):
    df = load_date_range("2026-01-02", date(2026, 1, 3), data_dir=data_dir)
    assert len(df) == 10
    assert df["timestamp"].min() == pd.Timestamp("2026-01-02T00:00:00Z")
    assert load_date_range("2027-01-01", "2027-01-02", data_dir=data_dir).empty
    with pytest.raises(ValueError, match="is after end"):
        load_date_range("2026-01-03", "2026-01-01", data_dir=data_dir)


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
