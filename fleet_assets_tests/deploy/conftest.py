"""The shipped deployed instance (deploy/dagster.yaml) loaded for real against the test PostgreSQL.

A fresh DAGSTER_HOME holding only the shipped yaml, and a fresh database (``state_url``) behind
``DAGSTER_PG_URL``: exactly what a webserver, daemon or run worker of a deployment loads.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEPLOY_YAML = REPO / "deploy" / "dagster.yaml"


@pytest.fixture
def deployed_home(tmp_path, state_url, monkeypatch) -> Path:
    """DAGSTER_HOME with the shipped dagster.yaml; DAGSTER_PG_URL set (subprocesses inherit both)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    # psycopg2 named explicitly: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, whose server-side
    # parameters break dagster-postgres' `NOTIFY run_events, %(id)s` (dagster-io/dagster#33958).
    monkeypatch.setenv("DAGSTER_PG_URL", state_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    return home


@pytest.fixture
def deployed_instance(deployed_home) -> Iterator:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(deployed_home)) as instance:
        yield instance
