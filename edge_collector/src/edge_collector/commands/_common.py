"""Flags and wiring shared by ``run`` and ``replay``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from edge_collector.collector import CollectorConfig


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML file with any of the settings below (flags win)")
    parser.add_argument("--db", help="SQLite buffer file (created if missing)")
    parser.add_argument("--max-mb", type=float, help="disk budget of the buffer in MB (default: unlimited)")
    parser.add_argument("--vin", help="VIN to use when the car does not report one (mode 09)")
    parser.add_argument("--pids", help="comma-separated python-OBD command names (default: SPEED,RPM,COOLANT_TEMP,"
                        "THROTTLE_POS,FUEL_LEVEL,ENGINE_LOAD,HYBRID_BATTERY_REMAINING)")
    parser.add_argument("--sample-hz", dest="sample_hz", type=float, help="OBD sampling rate (default 1)")
    parser.add_argument("--idle-timeout", dest="idle_timeout_s", type=float,
                        help="seconds without engine/motion that end a trip (default 120)")
    parser.add_argument("--status-file", dest="status_file", type=Path, help="JSON status for `edge-collector status`")


def collector_config(settings: dict) -> CollectorConfig:
    return CollectorConfig(
        sample_hz=float(settings["sample_hz"]),
        idle_timeout_s=float(settings["idle_timeout_s"]),
        gps_max_age_s=float(settings["gps_max_age_s"]),
        dtc_interval_s=float(settings["dtc_interval_s"]),
        flush_interval_s=float(settings["flush_interval_s"]),
        vin=settings["vin"],
        status_path=Path(settings["status_file"]) if settings["status_file"] else None,
    )


def max_bytes(settings: dict) -> int | None:
    return int(float(settings["max_mb"]) * 1024 * 1024) if settings["max_mb"] else None


class CommandError(Exception):
    """A user-facing error: ``cli.main`` prints it and exits with status 2; nothing was written."""


def load_settings(args: argparse.Namespace) -> dict:
    """Defaults < ``--config`` file < flags; ``--db`` is mandatory."""
    from edge_collector.config import ConfigError, resolve

    try:
        settings = resolve(vars(args), args.config)
    except ConfigError as exc:
        raise CommandError(str(exc)) from None
    if not settings["db"]:
        raise CommandError("--db (or db in the config file) is required")
    return settings


def fail(message: str, code: int = 2) -> int:
    print(f"edge-collector: error: {message}", file=sys.stderr)
    return code
