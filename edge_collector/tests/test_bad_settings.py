"""Impossible settings (flags or config file) fail before anything is opened: clear message, no buffer file."""

from __future__ import annotations

import pytest

from edge_collector.cli import main

VIN = "WAUZZZFY0R1234567"


@pytest.mark.parametrize(("extra", "message"), [
    (["--max-mb", "-1"], "max_mb must be a positive number, got -1.0"),
    (["--sample-hz", "0"], "sample_hz must be a positive number, got 0.0"),
    (["--idle-timeout", "-5"], "idle_timeout_s must be a positive number, got -5.0"),
    (["--vin", "BADVIN"], "vin must be 17 characters"),
    (["--pids", " , "], "pids must be a non-empty list of python-OBD command names, got []"),
])
def test_bad_flag_writes_nothing(tmp_path, capsys, extra, message):
    db = tmp_path / "buffer.db"
    argv = ["replay", "--db", str(db), "--synthetic", "30"] + (["--vin", VIN] if "--vin" not in extra else []) + extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"edge-collector: error: {message}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("toml", "message"), [
    ('sample_hz = "fast"', "sample_hz must be a positive number, got 'fast'"),
    ("gps_baud = 0", "gps_baud must be a positive number, got 0"),
    ("flush_interval_s = true", "flush_interval_s must be a positive number, got True"),
    ('pids = "SPEED,RPM"\nvin = "WAUZZZFY0R123456O"', "vin must be 17 characters"),
])
def test_bad_config_value_writes_nothing(tmp_path, capsys, toml, message):
    config = tmp_path / "collector.toml"
    config.write_text(f'[collector]\ndb = "{tmp_path / "buffer.db"}"\n{toml}\n')
    assert main(["replay", "--config", str(config), "--synthetic", "30", "--vin", VIN] if "vin" not in toml
                else ["replay", "--config", str(config), "--synthetic", "30"]) == 2
    assert f"edge-collector: error: {message}" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["collector.toml"]


def test_unknown_pid_with_emulator_is_a_clear_error(tmp_path, capsys):
    db = tmp_path / "buffer.db"
    assert main(["replay", "--db", str(db), "--synthetic", "5", "--obd", "emulator", "--pids", "SPEED,NOPE"]) == 2
    assert "edge-collector: error: unknown OBD command name(s): NOPE" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_gps_only_run_without_vin_fails_before_opening_anything(tmp_path, capsys):
    db = tmp_path / "buffer.db"
    assert main(["run", "--db", str(db), "--gps", str(tmp_path / "ttyACM0")]) == 2
    err = capsys.readouterr().err
    assert "edge-collector: error: without --obd there is no VIN source: give --vin" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("extra", "message"), [
    (["--synthetic", "0"], "--synthetic must be at least 1 second, got 0"),
    (["--synthetic", "-5"], "--synthetic must be at least 1 second, got -5"),
    (["--synthetic", "10", "--speedup", "-2"], "--speedup must be 0 (as fast as possible) or positive, got -2.0"),
])
def test_bad_replay_arguments_write_nothing(tmp_path, capsys, extra, message):
    assert main(["replay", "--db", str(tmp_path / "buffer.db"), "--vin", VIN, *extra]) == 2
    assert f"edge-collector: error: {message}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
