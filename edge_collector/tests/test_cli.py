"""The edge-collector CLI: clear errors that write nothing, and real end-to-end runs of the binary."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from edge_collector.buffer import EventBuffer
from edge_collector.cli import main
from edge_collector.synthetic import synthetic_drive

from .conftest import VIN
from .nmea_pty import NmeaPty, log_lines, nmea_log, wait_for

_BIN = Path(sys.executable).parent / "edge-collector"
CMD = [str(_BIN)] if _BIN.exists() else [sys.executable, "-m", "edge_collector.cli"]  # the console script


def _cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(CMD + list(args), capture_output=True, text=True, timeout=60, **kwargs)


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "replay", "status", "export", "upload"):
        assert command in out


@pytest.mark.parametrize("flag", ["--obd", "--gps"])
def test_missing_port_is_a_clear_error_and_writes_nothing(tmp_path, capsys, flag):
    db = tmp_path / "b.db"
    assert main(["run", flag, str(tmp_path / "ttyUSB9"), "--db", str(db), "--vin", VIN]) == 2
    err = capsys.readouterr().err
    assert "does not exist: is the device plugged in?" in err
    assert not db.exists()


@pytest.mark.parametrize("flag", ["--obd", "--gps"])
def test_busy_port_is_a_clear_error_and_writes_nothing(tmp_path, capsys, flag):
    pty = NmeaPty()
    holder = serial.Serial(pty.name, 9600, exclusive=True)  # another process/collector holds the port
    db = tmp_path / "b.db"
    try:
        assert main(["run", flag, pty.name, "--db", str(db), "--vin", VIN]) == 2
    finally:
        holder.close()
        pty.close()
    assert "is busy: another process holds it" in capsys.readouterr().err
    assert not db.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["run", "--db", "x.db"], "give at least one of --obd and --gps"),
        (["run", "--gps", "/dev/null"], "--db (or db in the config file) is required"),
        (["replay", "--db", "x.db", "--synthetic", "10"], "without --obd there is no VIN source: give --vin"),
        (["replay", "--db", "x.db", "--vin", VIN], "give --nmea LOG and/or --synthetic SECONDS"),
        (["replay", "--db", "x.db", "--vin", VIN, "--nmea", "missing.log"], "cannot read NMEA log missing.log"),
        (["export", "--db", "x.db", "--out", "o"], "buffer x.db does not exist"),
        (["status", "--db", "x.db"], "buffer x.db does not exist"),
    ],
)
def test_usage_errors(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "content, message",
    [("db = 'x.db'\nbaud = 4800\n", "unknown key(s) baud"), ("db = \n", "is not valid TOML")],
)
def test_bad_config_file(tmp_path, capsys, content, message):
    config = tmp_path / "c.toml"
    config.write_text(content)
    assert main(["run", "--config", str(config), "--gps", "/dev/null"]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.db").exists()


def test_replay_status_export_with_the_real_binary(tmp_path):
    db, out = tmp_path / "b.db", tmp_path / "out"
    result = _cli("replay", "--db", str(db), "--vin", VIN, "--nmea", str(nmea_log("haicom-305N.log")),
                  "--idle-timeout", "30", "--speedup", "0")
    assert result.returncode == 0, result.stderr
    assert "records stored" in result.stdout
    status = _cli("status", "--db", str(db), "--json")
    data = json.loads(status.stdout)
    assert data["buffer"]["trips"] >= 1 and data["buffer"]["pending_upload"] == data["buffer"]["trips"]
    exported = _cli("export", "--db", str(db), "--out", str(out), "--chunk-records", "20")
    assert exported.returncode == 0, exported.stderr
    manifests = sorted(out.glob("*.manifest.json"))
    assert len(manifests) == data["buffer"]["trips"]
    chunks = sorted(out.glob("*.ndjson.gz"))
    subprocess.run(["gzip", "-t", *map(str, chunks)], check=True)
    again = tmp_path / "again"
    _cli("export", "--db", str(db), "--out", str(again), "--chunk-records", "20")
    assert all((again / p.name).read_bytes() == p.read_bytes() for p in out.iterdir())


def test_live_run_over_gps_pty_with_status_file(tmp_path):
    pty = NmeaPty()
    db, status_file = tmp_path / "b.db", tmp_path / "status.json"
    proc = subprocess.Popen(
        [*CMD, "run", "--gps", pty.name, "--db", str(db), "--vin", VIN, "--sample-hz", "10", "--idle-timeout", "60",
         "--status-file", str(status_file), "--duration", "6", "--progress-every", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert wait_for(lambda: status_file.exists(), timeout=15), proc.stderr.read() if proc.poll() else ""
        lines = list(synthetic_drive(600))
        feeder = pty.feed(lines, delay=0.002)  # a receiver talking while the collector samples
        assert wait_for(lambda: _trip_records(db) >= 10, timeout=15)
        live = _cli("status", "--db", str(db), "--status-file", str(status_file))
        assert "collector running" in live.stdout and "last fix: 49.58" in live.stdout, live.stdout
        feeder.join(10)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        pty.close()
    assert proc.returncode == 0, err
    assert "collecting into" in out and "stored" in out
    final = json.loads(status_file.read_text())
    assert final["state"] == "stopped" and final["gps"]["counters"]["checksum_errors"] == 0
    with EventBuffer(db) as buf:
        [trip] = buf.trips()
        records = list(buf.iter_records(trip["trip_id"]))
    assert all(r["lat"] is not None for r in records[:5])


def _trip_records(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with EventBuffer(db) as buf:
            return buf.stats()["events"]
    except Exception:
        return 0


def test_sigterm_stops_run_cleanly(tmp_path):
    pty = NmeaPty()
    db = tmp_path / "b.db"
    proc = subprocess.Popen([*CMD, "run", "--gps", pty.name,
                             "--db", str(db), "--vin", VIN], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: db.exists(), timeout=15)
        time.sleep(0.5)
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        pty.close()
    assert proc.returncode == 0, err
    assert "stopped: 0 records stored, 0 dropped" in out


def test_live_run_with_obd_emulator_and_gps(tmp_path):
    """`run` end to end: python-OBD in the collector process talks to the ELM327-emulator over a pty."""
    from edge_collector.emulator import start_emulator

    emu = start_emulator("car")
    pty = NmeaPty()
    db, status_file = tmp_path / "b.db", tmp_path / "status.json"
    proc = subprocess.Popen(
        [*CMD, "run", "--obd", emu.get_pty(), "--gps", pty.name, "--db", str(db), "--sample-hz", "5",
         "--status-file", str(status_file), "--duration", "12", "--progress-every", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert wait_for(lambda: status_file.exists(), timeout=15)
        feeder = pty.feed(list(synthetic_drive(900)), delay=0.003)
        out, err = proc.communicate(timeout=60)
        feeder.join(5)
    finally:
        if proc.poll() is None:
            proc.kill()
        pty.close()
        emu.terminate()
    assert proc.returncode == 0, err
    assert "OBD connected" in out, out  # progress line once the background handshake is done
    with EventBuffer(db) as buf:
        [trip] = buf.trips()
        records = list(buf.iter_records(trip["trip_id"]))
    assert trip["vin"] in {"WP0ZZZ99ZTS390000", "MAT403096BNL00000", "SB1ZS3JE60E282102"}  # read via mode 09
    with_obd = [r for r in records if r["kind"] == "event" and r["rpm"] is not None]
    assert len(with_obd) >= 5 and any(r["lat"] is not None for r in with_obd)
    final = json.loads(status_file.read_text())
    assert final["obd"]["connected"] is True and final["obd"]["vin"] == trip["vin"]


def test_status_says_never_when_nothing_was_stored(tmp_path):
    """A replay of a receiver that never got a fix stores nothing: no 1970 timestamp in `status`."""
    lines = log_lines("bt451.log")
    first_fix = next(i for i, line in enumerate(lines) if line.startswith(b"$GPRMC,") and b",A," in line)
    log = tmp_path / "nofix.log"
    log.write_bytes(b"\r\n".join(lines[:first_fix]) + b"\r\n")  # the real no-fix start of bt451.log
    db, status_file = tmp_path / "b.db", tmp_path / "status.json"
    result = _cli("replay", "--db", str(db), "--vin", VIN, "--nmea", str(log), "--status-file", str(status_file))
    assert result.returncode == 0, result.stderr
    assert "0 records stored" in result.stdout
    status = _cli("status", "--db", str(db), "--status-file", str(status_file))
    assert status.returncode == 0, status.stderr
    assert "updated never" in status.stdout and "1970" not in status.stdout, status.stdout
    assert json.loads(status_file.read_text())["updated_at"] is None
