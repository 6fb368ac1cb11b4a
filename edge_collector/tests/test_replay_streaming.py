"""Recorded logs are streamed: same lines as reading the whole file, without holding it in memory."""

from __future__ import annotations

import tracemalloc

import pytest

from edge_collector.replay import iter_log_lines
from edge_collector.synthetic import synthetic_drive

from .nmea_pty import nmea_log


@pytest.mark.parametrize("name", ["nl2008u.log", "bt451.log", "haicom-305N.log"])
def test_streamed_lines_equal_whole_file_split(name):
    path = nmea_log(name)
    whole = [line for line in path.read_bytes().splitlines() if line.strip() and not line.startswith(b"#")]
    assert list(iter_log_lines(path)) == whole
    assert not any(line.startswith(b"#") or line.endswith((b"\r", b"\n")) for line in whole)


def test_bare_carriage_returns_split_like_before(tmp_path):
    path = tmp_path / "mixed.log"
    path.write_bytes(b"# comment\r\n$GPTXT,a*00\r$GPTXT,b*00\r\n\r\n  \n$GPTXT,c*00")
    assert list(iter_log_lines(path)) == [b"$GPTXT,a*00", b"$GPTXT,b*00", b"$GPTXT,c*00"]


def test_memory_stays_flat_for_a_long_log(tmp_path):
    path = tmp_path / "long.nmea"
    with open(path, "wb") as handle:
        for line in synthetic_drive(20_000):  # ~4.6 MB, 80,000 sentences
            handle.write(line + b"\r\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_log_lines(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 80_000
    assert peak < size / 20, f"peak {peak} bytes while streaming a {size}-byte log"
