"""``export --trip``: an open or unknown trip is refused before any file is written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edge_collector.buffer import EventBuffer
from edge_collector.cli import main

from .conftest import T0, VIN, sample_rows


@pytest.fixture
def trips(tmp_path):
    with EventBuffer(tmp_path / "b.db") as buf:
        ended = buf.start_trip(VIN, T0)
        buf.append(ended, sample_rows(10))
        buf.end_trip(ended, T0 + timedelta(minutes=1))
        still_open = buf.start_trip(VIN, T0 + timedelta(hours=1))
        buf.append(still_open, sample_rows(5))
    return tmp_path / "b.db", ended, still_open


def test_open_trip_is_refused_and_nothing_written(tmp_path, capsys, trips):
    db, ended, still_open = trips
    out = tmp_path / "out"
    assert main(["export", "--db", str(db), "--out", str(out), "--trip", ended, "--trip", still_open]) == 2
    err = capsys.readouterr().err
    assert f"trip {still_open} is still open (being recorded); only ended trips can be exported" in err
    assert not out.exists()


def test_unknown_trip_is_refused_and_nothing_written(tmp_path, capsys, trips):
    db, ended, _ = trips
    out = tmp_path / "out"
    assert main(["export", "--db", str(db), "--out", str(out), "--trip", ended, "--trip", "../../etc"]) == 1
    assert "unknown trip '../../etc'" in capsys.readouterr().err
    assert not out.exists()


def test_ended_trip_exports(tmp_path, trips):
    db, ended, _ = trips
    out = tmp_path / "out"
    assert main(["export", "--db", str(db), "--out", str(out), "--trip", ended]) == 0
    assert sorted(p.name for p in out.iterdir()) == [f"{ended}-1.ndjson.gz", f"{ended}.manifest.json"]


@pytest.mark.parametrize("out", ["a-file", "a-file/sub"])
def test_output_path_that_is_a_file_is_a_clear_error(tmp_path, capsys, trips, out):
    db, ended, _ = trips
    (tmp_path / "a-file").write_text("not a directory\n")
    assert main(["export", "--db", str(db), "--out", str(tmp_path / out)]) == 2
    err = capsys.readouterr().err
    assert f"edge-collector: error: cannot use output directory {tmp_path / out}: " in err and "Traceback" not in err
    assert (tmp_path / "a-file").read_text() == "not a directory\n"
