"""The ``upload`` command and the ``run --upload-server`` hook, against a real loopback ingest server."""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import datetime, timezone

from edge_collector.buffer import EventBuffer
from edge_collector.cli import build_parser, main
from edge_collector.collector import Collector

from .conftest import KEY
from .test_upload_buffer import _trip

START = datetime(2025, 3, 4, 9, tzinfo=timezone.utc)


def test_upload_command_uploads_and_reports(server, tmp_path, capsys):
    db = tmp_path / "buffer.db"
    with EventBuffer(db) as buffer:
        trip_id = _trip(buffer, START, 30)
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    assert main(["upload", "--db", str(db), "--server", server.url, "--key-file", str(key_file)]) == 0
    out = capsys.readouterr().out
    assert f"trip {trip_id}: complete=True" in out and "1/1 trips confirmed" in out
    with EventBuffer(db) as buffer:
        assert buffer.trips_ready_for_upload() == []


def test_upload_command_errors_are_clear(tmp_path, capsys):
    db = tmp_path / "buffer.db"
    EventBuffer(db).close()
    assert main(["upload", "--db", str(db), "--server", "http://127.0.0.1:9"]) == 2
    assert "--server needs --key-file" in capsys.readouterr().err
    (tmp_path / "empty").write_text("")
    assert main(["upload", "--db", str(db), "--server", "http://127.0.0.1:9", "--key-file", str(tmp_path / "empty")]) == 2
    assert "is empty" in capsys.readouterr().err


def test_export_then_server_import(server, tmp_path, capsys):
    db = tmp_path / "buffer.db"
    with EventBuffer(db) as buffer:
        trip_id = _trip(buffer, START, 1000)
    assert main(["upload", "--db", str(db), "--to-dir", str(tmp_path / "usb")]) == 0
    assert "stay pending" in capsys.readouterr().out
    with EventBuffer(db) as buffer:
        assert buffer.trips_ready_for_upload() == [trip_id]  # exporting is not a server confirmation
    done = subprocess.run([sys.executable, "-m", "fleet_assets.ingest.cli", "--data-dir", str(server.data_dir),
                           "import-dir", str(tmp_path / "usb")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert f"imported {trip_id}" in done.stdout
    assert (server.landing / "trips" / trip_id / "completed.json").exists()


def test_run_gets_upload_flags_and_hook_uploads_ended_trips(server, tmp_path):
    args = build_parser().parse_args(["run", "--db", str(tmp_path / "b.db"), "--upload-server", server.url,
                                      "--upload-key-file", str(tmp_path / "key"), "--upload-interval", "60"])
    assert args.upload_server == server.url and args.upload_interval == 60
    (tmp_path / "key").write_text(KEY)
    from edge_collector.commands.run import RUN_HOOKS

    with EventBuffer(tmp_path / "b.db") as buffer:
        trip_id = _trip(buffer, START, 20)
        collector = Collector(buffer)
        for install in RUN_HOOKS:
            install(args, collector)
        assert len(collector.trip_ended_hooks) == 1 and collector.periodic_hooks[0][0] == 60
        collector.trip_ended_hooks[0](trip_id)  # what the hook worker calls after the trip's end is committed
        assert buffer.trips_ready_for_upload() == []


def test_run_without_upload_server_installs_nothing(tmp_path):
    from edge_collector.commands.run import RUN_HOOKS

    args = argparse.Namespace(upload_server=None)
    with EventBuffer(tmp_path / "b.db") as buffer:
        collector = Collector(buffer)
        for install in RUN_HOOKS:
            install(args, collector)
        assert collector.trip_ended_hooks == [] and collector.periodic_hooks == []
