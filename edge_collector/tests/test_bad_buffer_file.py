"""``--db`` pointing at a file that is not a collector buffer: one clear error, the file untouched."""

from __future__ import annotations

import pytest

from edge_collector.buffer import EventBuffer, EventBufferError
from edge_collector.cli import main

VIN = "WAUZZZFY0R1234567"
CONTENT = b"trip notes, definitely not SQLite\n" * 10


@pytest.fixture
def not_a_db(tmp_path):
    path = tmp_path / "buffer.db"
    path.write_bytes(CONTENT)
    return path


def _assert_untouched(path):
    assert path.read_bytes() == CONTENT
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no -wal / -shm / journal left


def test_event_buffer_refuses_a_foreign_file(not_a_db):
    with pytest.raises(EventBufferError, match=r"buffer\.db is not a usable collector buffer: file is not a database"):
        EventBuffer(not_a_db)
    _assert_untouched(not_a_db)


@pytest.mark.parametrize("command", [
    ["status"],
    ["export", "--out", "{out}"],
    ["replay", "--vin", VIN, "--synthetic", "5"],
])
def test_cli_commands_report_it_without_traceback(not_a_db, tmp_path, capsys, command):
    out = tmp_path.parent / (tmp_path.name + "-out")
    argv = [part.replace("{out}", str(out)) for part in command[:1]] + ["--db", str(not_a_db)] + [
        part.replace("{out}", str(out)) for part in command[1:]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"edge-collector: error: {not_a_db} is not a usable collector buffer: file is not a database" in err
    assert "Traceback" not in err
    _assert_untouched(not_a_db)
    assert not out.exists() or not any(out.iterdir())


def test_directory_as_buffer_is_a_clear_error(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    assert main(["replay", "--db", str(folder), "--vin", VIN, "--synthetic", "5"]) == 2
    err = capsys.readouterr().err
    expected = f"edge-collector: error: {folder} cannot be opened as a collector buffer: unable to open database file"
    assert expected in err
    assert list(folder.iterdir()) == []
