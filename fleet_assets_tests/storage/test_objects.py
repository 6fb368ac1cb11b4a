"""The object-store contract, on local disk and on a real S3 API server (moto) alike."""

from __future__ import annotations

import pytest

from fleet_assets.storage.objects import StorageError, check_conditional_writes, open_store


def test_write_read_list_delete(storage_url):
    store = open_store(storage_url)
    assert store.read("a/b.json") is None and not store.exists("a/b.json")
    store.write("a/b.json", b"1")
    store.write("a/b.json", b"2")  # replace
    store.write("a/c/d.bin", b"xyz")
    assert store.read("a/b.json") == b"2" and store.size("a/c/d.bin") == 3
    assert store.list("a") == ["a/b.json", "a/c/d.bin"]
    assert store.children("a") == ["c"]
    assert store.delete_prefix("a/c") == 1 and store.list("a") == ["a/b.json"]
    store.delete("a/b.json")
    assert store.list("") == []


def test_create_is_create_only(storage_url):
    store = open_store(storage_url)
    assert store.create("landing/x", b"first") is True
    assert store.create("landing/x", b"second") is False
    assert store.read("landing/x") == b"first"
    check_conditional_writes(store)  # both backends enforce it


def test_upload_replaces_from_a_finished_local_file(storage_url, tmp_path):
    store = open_store(storage_url)
    src = tmp_path / "part.bin"
    src.write_bytes(b"p" * 1000)
    store.upload("parquet/t/date=2026-01-01/part-0.parquet", src)
    assert store.read("parquet/t/date=2026-01-01/part-0.parquet") == b"p" * 1000
    fs, base = store.arrow_filesystem()
    with fs.open_input_stream(f"{base}/parquet/t/date=2026-01-01/part-0.parquet") as fh:
        assert fh.read() == b"p" * 1000


def test_missing_bucket_names_the_setting(s3_env):
    store = open_store("s3://no-such-bucket/data")
    with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist"):
        store.write("k", b"1")


def test_unreachable_endpoint_is_one_clear_error(monkeypatch, s3_env, free_port):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(StorageError, match="AWS_ENDPOINT_URL_S3"):
        open_store("s3://fleet/data").read("k")


def test_bad_urls_are_refused():
    with pytest.raises(StorageError, match="names no bucket"):
        open_store("s3:///data")
    with pytest.raises(StorageError, match="unsupported scheme 'gs'"):
        open_store("gs://bucket/x")
