"""The analytics CLI (issue 12 items 7-10, 1): bad arguments get one line and exit 2, nothing written; the
day is canonical wherever it keys anything; a missing data dir is an error; a reset can be declared."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fleet_assets.analytics.cli import main
from fleet_assets.analytics.ledger import UploadLedger, normalise_endpoint

from fleet_assets.storage.parquet_partitions import write_partition
from fleet_assets.warehouse.resources import FleetStorage

from .conftest import DAY, make_day


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("bad", ["2025-13-45", "yesterday", "../x", "2025-06-01/../../etc", ""])
def test_invalid_date_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, bad):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    code, out, err = _run(capsys, "--date", bad, "--endpoint", "http://127.0.0.1:9/graphql",
                          "--data-dir", str(data_dir))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"--date: {bad!r} is not a day" in err and "YYYY-MM-DD" in err
    assert list(data_dir.iterdir()) == []  # no ledger, no lock file


def test_invalid_date_through_the_real_entry_point_has_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "fleet_assets.analytics.cli", "--date", "2025-13-45",
                           "--endpoint", "http://127.0.0.1:9/graphql", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_missing_data_dir_is_an_error_and_creates_nothing(tmp_path, capsys):
    missing = tmp_path / "nope"
    code, out, err = _run(capsys, "--date", DAY, "--endpoint", "http://127.0.0.1:9/graphql",
                          "--data-dir", str(missing))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"--data-dir: {missing} does not exist" in err
    assert not missing.exists()


def test_day_without_data_says_so_and_sends_nothing(storage, capsys):
    storage.root.mkdir(parents=True)
    code, out, err = _run(capsys, "--date", DAY, "--endpoint", "http://127.0.0.1:9/graphql",
                          "--data-dir", str(storage.root))
    assert code == 0
    assert f"{DAY}: no data for this day in {storage.root} (no telemetry, edge_events or edge_dtcs partition); " \
           "nothing sent" in out
    assert not storage.ledger_path.exists()


def _upload(capsys, url, storage, date, *extra):
    code, out, err = _run(capsys, "--date", date, "--endpoint", url, "--data-dir", str(storage.root), "--json",
                          "-q", *extra)
    assert code == 0, err
    return json.loads(out)


def test_basic_format_date_is_the_same_ledger_key(storage, write_day, loopback, capsys):
    day = make_day(points=40, events=30, dtcs=3)
    write_day(day)
    backend, url = loopback()
    first = _upload(capsys, url, storage, "20250601")
    again = _upload(capsys, url, storage, DAY)
    assert first["partition_key"] == DAY and sum(first["records_sent"].values()) == sum(day.expected.values())
    assert again["requests"] == 0 and sum(backend.duplicate_deliveries.values()) == 0
    ledger = UploadLedger(storage.ledger_path, normalise_endpoint(url))
    with ledger._connect() as con:
        assert con.execute("SELECT DISTINCT partition_key FROM upload_records").fetchall() == [(DAY,)]


def test_backend_id_and_declared_reset(storage, write_day, loopback, capsys):
    day = make_day(points=40, events=30, dtcs=3)
    write_day(day)
    backend, url = loopback()
    _upload(capsys, url, storage, DAY, "--backend-id", "lab")
    other_url = _upload(capsys, url.replace("127.0.0.1", "localhost"), storage, DAY, "--backend-id", "lab")
    assert other_url["requests"] == 0
    backend.reset()
    reset = _upload(capsys, url, storage, DAY, "--backend-id", "lab", "--backend-reset")
    assert sum(reset["records_sent"].values()) == sum(day.expected.values())
    assert backend.stored_counts() == day.expected


def test_deployed_mode_reads_the_day_from_s3_and_keeps_the_ledger_in_postgres(
        tmp_path, s3_storage_url, state_url, monkeypatch, loopback, capsys):
    """FLEET_STORAGE_URL + FLEET_STATE_URL: the CLI uploads the day stored on S3; nothing lands in --data-dir."""
    monkeypatch.setenv("FLEET_STORAGE_URL", s3_storage_url)
    monkeypatch.setenv("FLEET_STATE_URL", state_url)
    deployed = FleetStorage(data_dir=str(tmp_path / "scratch"), storage_url=s3_storage_url)
    day = make_day(points=40, events=30, dtcs=3)
    for name in ("telemetry", "edge_events", "edge_dtcs"):
        write_partition(deployed.dataset(name), DAY, getattr(day.data, name))
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    backend, url = loopback()
    first = _upload(capsys, url, deployed, DAY)
    again = _upload(capsys, url, deployed, DAY)
    assert sum(first["records_sent"].values()) == sum(day.expected.values()) and again["requests"] == 0
    assert backend.stored_counts() == day.expected
    assert list(scratch.iterdir()) == []  # no DuckDB ledger: the acks are in Postgres


def test_unreachable_object_store_is_one_line_and_sends_nothing(tmp_path, s3_env, free_port, monkeypatch, loopback,
                                                                capsys):
    monkeypatch.setenv("FLEET_STORAGE_URL", "s3://fleet/data")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    backend, url = loopback()
    code, out, err = _run(capsys, "--date", DAY, "--endpoint", url, "--data-dir", str(tmp_path))
    assert code == 2 and out == "" and err.count("\n") == 1 and "Traceback" not in err
    assert "AWS_ENDPOINT_URL_S3" in err
    assert backend.stored_counts() == {} or sum(backend.stored_counts().values()) == 0
    assert list(tmp_path.iterdir()) == []
