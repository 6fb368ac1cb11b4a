"""What the loopback-deployment tests share: ``scripts/worker_hosts.py`` as a module, and fresh databases.

``scripts/`` is not a package (the benchmarks run its files directly), so the tests load it by path, once.
"""

from __future__ import annotations

import importlib.util
import uuid
from pathlib import Path

import psycopg


def _load_worker_hosts():
    spec = importlib.util.spec_from_file_location("worker_hosts", Path(__file__).parents[2] / "scripts" /
                                                  "worker_hosts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker_hosts = _load_worker_hosts()


def new_database(admin: str) -> str:
    """A fresh database on the server of ``admin`` (the test's instance or state database); its URL."""
    name = f"fleet_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin.replace("/postgres?", f"/{name}?", 1)
