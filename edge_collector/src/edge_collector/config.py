"""Settings for ``run``/``replay``: defaults < TOML config file < command-line flags.

Unknown keys in the file are an error (a typo must not silently fall back to a default).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from fleet_protocol import InvalidIdError, validate_vin

from edge_collector.obd_reader import DEFAULT_PIDS

DEFAULTS: dict = {
    "obd": None,
    "obd_baud": None,
    "gps": None,
    "gps_baud": 9600,
    "db": None,
    "max_mb": None,
    "vin": None,
    "pids": list(DEFAULT_PIDS),
    "sample_hz": 1.0,
    "idle_timeout_s": 120.0,
    "gps_max_age_s": 3.0,
    "dtc_interval_s": 300.0,
    "flush_interval_s": 1.0,
    "status_file": None,
}


class ConfigError(ValueError):
    pass


def load_config(path: Path | None) -> dict:
    if path is None:
        return {}
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    data = data.get("collector", data)  # accept a [collector] table or top-level keys
    unknown = sorted(set(data) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"config file {path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    return data


def resolve(flags: dict, config_path: Path | None) -> dict:
    """Merge defaults, the config file and the flags that were actually given (not None)."""
    settings = dict(DEFAULTS)
    settings.update(load_config(config_path))
    settings.update({k: v for k, v in flags.items() if k in DEFAULTS and v is not None})
    if isinstance(settings["pids"], str):
        settings["pids"] = [p.strip().upper() for p in settings["pids"].split(",") if p.strip()]
    validate(settings)
    return settings


POSITIVE = ("sample_hz", "idle_timeout_s", "gps_max_age_s", "dtc_interval_s", "flush_interval_s")


def validate(settings: dict) -> None:
    """Reject impossible values before anything is opened or written (a bad flag must not leave a buffer)."""
    for key in POSITIVE + ("max_mb", "obd_baud", "gps_baud"):
        value = settings[key]
        if value is None and key not in POSITIVE:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"{key} must be a positive number, got {value!r}")
    if settings["vin"] is not None:
        try:
            validate_vin(settings["vin"])
        except InvalidIdError as exc:
            raise ConfigError(str(exc)) from None
    pids = settings["pids"]
    if not isinstance(pids, list) or not pids or not all(isinstance(p, str) and p for p in pids):
        raise ConfigError(f"pids must be a non-empty list of python-OBD command names, got {pids!r}")
