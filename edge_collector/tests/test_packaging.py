"""The shipped examples must keep working: the TOML config loads and the unit's ExecStart parses."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

from edge_collector.cli import build_parser
from edge_collector.config import resolve

PACKAGING = Path(__file__).resolve().parents[1] / "packaging"


def test_example_config_is_complete_and_valid():
    settings = resolve({}, PACKAGING / "edge-collector.toml")
    assert settings["obd"] == "/dev/ttyUSB0" and settings["gps"] == "/dev/ttyACM0"
    assert settings["db"].startswith("/var/lib/edge-collector/")
    assert settings["max_mb"] == 512 and settings["pids"][0] == "SPEED"


def test_systemd_exec_start_is_a_valid_command_line():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(PACKAGING / "edge-collector.service")
    argv = shlex.split(unit["Service"]["ExecStart"])
    assert Path(argv[0]).name == "edge-collector"
    # the unit runs the binary of the venv the README tells people to create
    assert argv[0] in (PACKAGING.parent / "README.md").read_text()
    args = build_parser().parse_args(argv[1:])
    assert args.command == "run" and args.config == Path("/etc/edge-collector/edge-collector.toml")
    # the state dir systemd creates is where the example config puts the buffer
    assert unit["Service"]["StateDirectory"] == "edge-collector"
    assert unit["Service"]["KillSignal"] == "SIGTERM"
