"""Connections to the shared-state database (``FLEET_STATE_URL``) and versioned schema creation.

Why Postgres: several ingest replicas and run workers on different hosts must
agree on the completion log, the device keys and the analytics upload ledger;
Postgres gives them transactions, row locks and advisory locks that every host
sees. psycopg 3 is the driver. Each component (ledger, ingest) owns a list of
DDL steps; :func:`ensure_schema` applies the steps a database has not seen yet,
once, under an advisory lock, and records the version, so concurrent start-ups
and re-runs are harmless and a database newer than the code is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit, urlunsplit

import psycopg

SCHEMA_TABLE = "fleet_schema_versions"
_SCHEMA_LOCK = 0x666C6565  # advisory lock key shared by every component's schema creation


class StateError(RuntimeError):
    """The state database is unreachable, refuses us, or has a schema this code does not know."""


def redact(url: str) -> str:
    """``url`` without its password, in the user part or a ``password=`` option (safe for logs and errors)."""
    parts = urlsplit(url)
    if parts.password is not None:
        netloc = parts.netloc.rsplit("@", 1)[-1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{netloc}")
    query = "&".join(
        f"{k}=***" if k.lower() == "password" else (f"{k}={v}" if sep else k)
        for k, sep, v in (item.partition("=") for item in parts.query.split("&") if item)
    )
    return urlunsplit(parts._replace(query=query))


def connect(url: str, *, autocommit: bool = False, connect_timeout: int = 5) -> psycopg.Connection:
    """A psycopg connection to ``url``; a clear error naming ``FLEET_STATE_URL`` (password never shown)."""
    if not url.startswith(("postgresql://", "postgres://")):
        raise StateError(f"FLEET_STATE_URL must be a postgresql:// URL, got {redact(url)!r}")
    try:
        return psycopg.connect(url, autocommit=autocommit, connect_timeout=connect_timeout)
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StateError(f"cannot connect to PostgreSQL at FLEET_STATE_URL={redact(url)}: {reason}") from None


def ensure_schema(conn: psycopg.Connection, component: str, steps: Sequence[str]) -> int:
    """Apply ``steps[v:]`` where ``v`` is the component's recorded version; return the new version.

    Each step is plain DDL (may hold several statements). Idempotent and safe under concurrent
    callers (one transaction under an advisory lock).
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        row = conn.execute(f"SELECT version FROM {SCHEMA_TABLE} WHERE component = %s", (component,)).fetchone()
        current = row[0] if row else 0
        if current > len(steps):
            raise StateError(
                f"the state database's {component} schema is version {current}, newer than this code's "
                f"{len(steps)}: upgrade the platform before pointing it at this FLEET_STATE_URL"
            )
        for step in steps[current:]:
            conn.execute(step)
        conn.execute(
            f"INSERT INTO {SCHEMA_TABLE} (component, version) VALUES (%s, %s) "
            "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
            (component, len(steps)),
        )
    return len(steps)
