"""SIGKILL a process mid-write of a partition on S3, once while a multipart upload is in progress and twice at
random points: a concurrent reader, and every reader afterwards, sees a whole old or whole new day, never a partial one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from urllib.parse import urlparse

import numpy as np
import pyarrow as pa
import pytest

from fleet_assets.storage.objects import S3Store, StoreDir
from fleet_assets.storage.parquet_partitions import read_partition, write_partition

ROWS = 1_000_000  # ~16 MB of Parquet: two 8 MB parts, so a kill can land inside a multipart upload
PART = 8 * 1024 * 1024
DAY = "2026-01-01"


def version(tag: int) -> pa.Table:
    rng = np.random.default_rng(tag)
    return pa.table({"tag": pa.array(np.full(ROWS, tag, dtype=np.int64)), "x": rng.random(ROWS), "y": rng.random(ROWS)})


def _dataset(url: str) -> StoreDir:
    parsed = urlparse(url)
    return StoreDir(S3Store(parsed.netloc, parsed.path, multipart_threshold=PART), "parquet/big")


@pytest.mark.slow
def test_sigkill_mid_write_on_s3_never_shows_a_partial_day(s3_storage_url, tmp_path):
    dataset = _dataset(s3_storage_url)
    tables = {tag: version(tag) for tag in (1, 2, 3)}
    write_partition(dataset, DAY, tables[1])
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(os.path.dirname(__file__))!r})
        from test_kill_mid_write_s3 import _dataset, version
        from fleet_assets.storage.parquet_partitions import write_partition
        dataset = _dataset(sys.argv[1])
        tables = [version(2), version(3)]
        print("ready", flush=True)
        i = 0
        while True:
            write_partition(dataset, "{DAY}", tables[i % 2])
            i += 1
        """
    )
    rng = random.Random(10)
    store = dataset.store
    seen = set()
    for when in ("mid-multipart", "random", "random"):
        proc = subprocess.Popen([sys.executable, "-c", script, s3_storage_url], stdout=subprocess.PIPE, text=True,
                                env={**os.environ, "TMPDIR": str(tmp_path)})
        try:
            assert proc.stdout.readline().strip() == "ready"
            deadline = time.monotonic() + (rng.uniform(0.5, 4.0) if when == "random" else 60)
            while time.monotonic() < deadline:  # read concurrently with the writer until the kill
                seen.add(_whole_version(read_partition(dataset, DAY), tables))
                if when == "mid-multipart" and _open_uploads(store):
                    break
            assert time.monotonic() < deadline or when == "random", "never saw a multipart upload in progress"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        seen.add(_whole_version(read_partition(dataset, DAY), tables))
    assert seen & {2, 3}, "the writer never completed a replacement: the kills proved nothing"
    assert _open_uploads(store), "the mid-multipart kill left no incomplete upload behind"  # invisible to readers
    assert dataset.store.list("parquet/big") == [f"parquet/big/date={DAY}/part-0.parquet"]


def _open_uploads(store: S3Store) -> list:
    return store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])


def _whole_version(table: pa.Table | None, tables: dict[int, pa.Table]) -> int:
    assert table is not None and table.num_rows == ROWS
    tag = table["tag"][0].as_py()
    assert table.equals(tables[tag]), f"partition mixes versions (tag {tag})"
    return tag
