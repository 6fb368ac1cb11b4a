"""``fleet_assets.settings`` is the one module that reads environment variables, and it parses them right."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from fleet_assets import settings

PACKAGE = Path(__file__).resolve().parents[1] / "fleet_assets"

# Modules that may still touch os.environ, and why:
ALLOWED = {
    "settings.py": "the settings module itself",
    # The ingest CLI hands its parsed flags to uvicorn's worker processes, which build the app
    # through a zero-argument factory (app_from_env) in a fresh interpreter: the environment is the
    # only channel uvicorn offers. These FLEET_INGEST_* variables are internal, written by the same
    # command a moment earlier, not configuration a user sets.
    "ingest/cli.py": "internal handoff to uvicorn worker processes",
}


def _environment_reads(path: Path) -> list[str]:
    """``os.environ``/``os.getenv``/``environ`` uses (attribute or imported name) in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv", "putenv", "environb"}:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            found += [f"line {node.lineno}: from os import {a.name}" for a in node.names
                      if a.name in {"environ", "getenv", "putenv", "environb"}]
    return found


def test_no_other_module_reads_the_environment():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel in ALLOWED or rel.startswith("analytics/"):  # analytics: see ALLOWED
            continue
        if reads := _environment_reads(path):
            offenders[rel] = reads
    assert not offenders, offenders


def test_the_scan_finds_an_environment_read(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nfrom os import getenv\nx = os.environ.get('A')\n")
    assert len(_environment_reads(probe)) == 2


def test_settings_does_not_import_dagster():
    tree = ast.parse((PACKAGE / "settings.py").read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not {m for m in imported if m.startswith("dagster")}


def test_defaults_without_any_variable():
    assert settings.data_dir({}) == "data"
    assert settings.partitions_start({}) == "2025-01-01"
    assert settings.lookback_days(environ={}) == 7
    assert settings.lookback_days(3, environ={}) == 3
    assert settings.provider_credential("MOTIVE_API_KEY", {}) is None
    assert settings.provider_base_url("SAMSARA_BASE_URL", {}) is None
    assert not settings.is_set("MOTIVE_API_KEY", {})
    assert settings.shard_workers({}) is None and settings.shard_workers({"FLEET_SHARD_WORKERS": " "}) is None


def test_values_are_read_when_called(monkeypatch):
    monkeypatch.setenv("FLEET_DATA_DIR", "/srv/fleet")
    monkeypatch.setenv("FLEET_LOOKBACK_DAYS", "3")
    monkeypatch.setenv("SAMSARA_BASE_URL", " https://api.eu.samsara.com ")
    assert settings.data_dir() == "/srv/fleet"
    assert settings.lookback_days() == 3
    assert settings.provider_base_url("SAMSARA_BASE_URL") == "https://api.eu.samsara.com"
    monkeypatch.setenv("MOTIVE_API_KEY", "  ")
    assert settings.provider_credential("MOTIVE_API_KEY") == "  "  # blank is refused by the resource, not hidden
    assert settings.is_set("MOTIVE_API_KEY")


@pytest.mark.parametrize(("env", "message"), [
    ({"FLEET_LOOKBACK_DAYS": "0"}, "FLEET_LOOKBACK_DAYS must be >= 1, got '0'"),
    ({"FLEET_PARTITIONS_START": "2017-13-01"}, "FLEET_PARTITIONS_START must be a date YYYY-MM-DD, got '2017-13-01'"),
    ({"FLEET_SHARD_WORKERS": "0"}, "FLEET_SHARD_WORKERS must be a whole number >= 1, got '0'"),
    ({"FLEET_SHARD_WORKERS": "two"}, "FLEET_SHARD_WORKERS must be a whole number >= 1, got 'two'"),
])
def test_bad_values_are_one_clear_error(env, message):
    read = {"FLEET_LOOKBACK_DAYS": lambda: settings.lookback_days(environ=env),
            "FLEET_SHARD_WORKERS": lambda: settings.shard_workers(env)}.get(next(iter(env)), lambda: settings.partitions_start(env))
    with pytest.raises(ValueError, match=message):
        read()


def test_shard_workers_is_read_when_called(monkeypatch):
    monkeypatch.setenv("FLEET_SHARD_WORKERS", "3")
    assert settings.shard_workers() == 3
