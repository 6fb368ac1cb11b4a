"""``fleet-storage`` with ``FLEET_STORAGE_URL=s3://...``: the same commands as embedded, and bad deployed-mode
settings (unreachable endpoint, missing bucket, bad credentials, no conditional writes) refused with ONE
line naming the setting, a non-zero exit, and nothing written or deleted."""

from __future__ import annotations

import subprocess
import sys
import uuid

import dagster as dg
import pytest

from fleet_assets.storage.layout import DataLayout
from fleet_assets.storage.objects import StorageError, check_conditional_writes, ensure_conditional_writes, open_store
from fleet_assets.storage.parquet_partitions import write_partition

DAYS = ("2026-01-01", "2026-01-02")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "fleet_assets.storage.cli", *args], capture_output=True, text=True,
                          timeout=120)


def _one_line_error(result, *needles):
    assert result.returncode == 2 and result.stdout == "", (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _s3_keys(client, bucket):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))


def test_cli_commands_on_s3(s3_storage_url, tmp_path, monkeypatch, make_rows):
    """(The embedded CLI is covered by test_retention_and_cli and test_query_cli.)"""
    monkeypatch.setenv("FLEET_STORAGE_URL", s3_storage_url)
    layout = DataLayout.from_settings(tmp_path / "host")
    for day, n in zip(DAYS, (7, 3)):
        write_partition(layout.dataset("telemetry"), day, make_rows(day, n))
    host = ["--data-dir", str(tmp_path / "host")]
    listing = _cli(*host, "list")
    assert listing.returncode == 0 and "telemetry" in listing.stdout and "2 partitions" in listing.stdout, listing.stderr
    out = tmp_path / "out.csv"
    load = _cli(*host, "load", "--start", DAYS[0], "--end", DAYS[1], "--out", str(out))
    assert load.returncode == 0 and "wrote 10 rows" in load.stderr, load.stderr
    catalog = _cli(*host, "rebuild-catalog")
    assert catalog.returncode == 0 and "view telemetry" in catalog.stdout and "10 rows" in catalog.stdout, catalog.stderr
    query = _cli(*host, "query", "--csv", "SELECT date, count(*) AS n FROM telemetry GROUP BY 1 ORDER BY 1")
    assert query.stdout.splitlines() == ["date,n", "2026-01-01,7", "2026-01-02,3"], query.stderr
    prune = _cli(*host, "prune", "--keep-days", "0")
    assert prune.returncode == 0 and "2 partitions deleted" in prune.stdout, prune.stderr
    assert layout.store.list("parquet") == []
    assert not layout.store.list(".probe") and not [k for k in layout.store.list("") if "probe" in k]


@pytest.fixture
def populated_bucket(s3_storage_url, make_rows):
    """A bucket holding two days; returns (url, keys before) for 'nothing changed' checks."""
    store = open_store(s3_storage_url)
    for day in DAYS:
        write_partition(DataLayout(storage_url=s3_storage_url).dataset("telemetry"), day, make_rows(day, 4))
    return s3_storage_url, _s3_keys(store.client, store.bucket)


def _refused(tmp_path, *needles):
    result = _cli("--data-dir", str(tmp_path / "host"), "prune", "--keep-days", "0")
    _one_line_error(result, *needles)
    assert not (tmp_path / "host").exists()  # nothing written locally either


def test_unreachable_endpoint(populated_bucket, tmp_path, monkeypatch, free_port):
    url, before = populated_bucket
    monkeypatch.setenv("FLEET_STORAGE_URL", url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    _refused(tmp_path, "AWS_ENDPOINT_URL_S3", "FLEET_STORAGE_URL")


def test_missing_bucket(populated_bucket, tmp_path, monkeypatch):
    url, before = populated_bucket
    monkeypatch.setenv("FLEET_STORAGE_URL", "s3://fleet-no-such-bucket/data")
    _refused(tmp_path, "bucket 'fleet-no-such-bucket' does not exist", "FLEET_STORAGE_URL")
    store = open_store(url)
    assert _s3_keys(store.client, store.bucket) == before


def test_bad_credentials(s3_auth_server, tmp_path, monkeypatch, make_rows):
    good = s3_auth_server.client()
    prefix = f"data-{uuid.uuid4().hex[:8]}"
    good.put_object(Bucket=s3_auth_server.bucket, Key=f"{prefix}/parquet/telemetry/date=2026-01-01/part-0.parquet",
                    Body=b"x")
    before = _s3_keys(good, s3_auth_server.bucket)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_auth_server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_auth_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    monkeypatch.setenv("FLEET_STORAGE_URL", f"s3://{s3_auth_server.bucket}/{prefix}")
    _refused(tmp_path, "S3 refused the credentials", "AWS_SECRET_ACCESS_KEY")
    assert _s3_keys(good, s3_auth_server.bucket) == before
    # the same server accepts the right secret: the refusal was about the credentials, not the server
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_auth_server.secret_key)
    check_conditional_writes(open_store(f"s3://{s3_auth_server.bucket}/{prefix}"))


def test_bucket_without_conditional_writes_is_refused_at_start(populated_bucket, no_conditional_s3, tmp_path,
                                                               monkeypatch):
    url, before = populated_bucket
    ensure_conditional_writes(open_store(url))  # passes on the real endpoint (and is remembered) ...
    monkeypatch.setenv("FLEET_STORAGE_URL", url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", no_conditional_s3)
    with pytest.raises(StorageError, match="does not enforce conditional writes"):
        ensure_conditional_writes(open_store(url))  # ... but the same bucket through another endpoint is probed again
    _refused(tmp_path, "does not enforce conditional writes", "FLEET_STORAGE_URL")
    store = open_store(url)
    assert _s3_keys(store.client, store.bucket) == before  # nothing pruned, no probe object left


def test_dagster_resource_refuses_it_at_start_up(populated_bucket, no_conditional_s3, tmp_path, monkeypatch):
    from fleet_assets.warehouse.assets import warehouse_catalog
    from fleet_assets.warehouse.resources import FleetStorage

    url, before = populated_bucket
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", no_conditional_s3)
    result = dg.materialize([warehouse_catalog], raise_on_error=False,
                            resources={"storage": FleetStorage(data_dir=str(tmp_path / "host"), storage_url=url)})
    assert not result.success
    failure = next(e for e in result.all_events if e.is_failure)
    assert "does not enforce conditional writes" in str(failure.event_specific_data)
    assert not (tmp_path / "host" / "warehouse.sql").exists()
    store = open_store(url)
    assert _s3_keys(store.client, store.bucket) == before
