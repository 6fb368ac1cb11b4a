"""The upload ledger in PostgreSQL (``FLEET_STATE_URL``): the deployed store, shared by every run worker.

Why Postgres: run workers on different hosts cannot share the embedded DuckDB
file, and its ``flock`` does not cross hosts. Postgres gives them transactions
and row locks: the queries (``ledger_queries.Ledger``, the same ones the
embedded ledger runs) commit a batch's acked fingerprints, its dead letters and
its batch row in ONE transaction, so a crash never leaves an ack without its
fingerprints; uploads of different days write concurrently without a global
lock. One autocommit connection per ledger, each operation its own statement
or explicit transaction; a row lock waited on past ``lock_timeout_seconds`` is
``LedgerLockedError``, a lost server a ``StateError`` naming the setting.

Schema: the embedded DDL plus an index for the per-day reads, created by
``state.postgres.ensure_schema`` as component ``analytics_ledger`` (versioned;
append a step to change it, never edit one).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qsl, urlencode, urlsplit

import psycopg

from fleet_assets.analytics.batching import Batch
from fleet_assets.analytics.ledger_queries import SCHEMA_SQL, Ledger, LedgerLockedError
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.state.postgres import StateError, connect, ensure_schema, redact

COMPONENT = "analytics_ledger"
SCHEMA_STEPS = (
    SCHEMA_SQL + "CREATE INDEX IF NOT EXISTS upload_records_day ON upload_records (endpoint, partition_key, kind);",
)


def url_label(url: str) -> str:
    """``url`` without its password, in the user part or in a ``password=`` query parameter."""
    parts = urlsplit(redact(url))
    query = [(k, v if k != "password" else "***") for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return parts._replace(query=urlencode(query, safe="/:*")).geturl()


class PostgresLedger(Ledger):
    """The ledger's rows for one backend identity in the database at ``url``.

    Connects at construction, so a wrong ``FLEET_STATE_URL`` fails before anything is sent; creates
    the schema at the first operation.
    """

    def __init__(self, url: str, endpoint: str,
                 lock_timeout_seconds: float = UploadSettings().ledger_lock_timeout_seconds):
        self.url = url
        self.endpoint = endpoint
        self.lock_timeout_seconds = lock_timeout_seconds
        self._mutex = threading.RLock()
        self._conn: psycopg.Connection | None = None
        self._initialised = False
        self._open()

    @property
    def location(self) -> str:
        return f"postgres {url_label(self.url)}"

    def _open(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = connect(self.url, autocommit=True)
            self._conn.execute("SELECT set_config('lock_timeout', %s, false)",
                               (f"{int(self.lock_timeout_seconds * 1000)}ms",))
        return self._conn

    @contextmanager
    def _connect(self) -> Iterator[psycopg.RawCursor]:
        with self._mutex:
            try:
                conn = self._open()
                if not self._initialised:
                    ensure_schema(conn, COMPONENT, SCHEMA_STEPS)
                    self._initialised = True
                with psycopg.RawCursor(conn) as cur:
                    yield cur
            except psycopg.errors.LockNotAvailable as exc:
                raise LedgerLockedError(
                    f"analytics ledger ({self.location}) stayed locked by another upload for more than "
                    f"{self.lock_timeout_seconds:.0f}s ({str(exc).strip().splitlines()[0]})") from None
            except psycopg.OperationalError as exc:
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise StateError(f"analytics ledger: PostgreSQL at FLEET_STATE_URL={url_label(self.url)} "
                                 f"failed: {reason}") from None

    @contextmanager
    def session(self):
        """One connection is held for the ledger's life; a session only keeps other threads out."""
        with self._mutex:
            yield

    def _insert_acked(self, con: psycopg.RawCursor, batch: Batch, fingerprints: list[int]) -> None:
        # One statement with an array parameter: one round trip, as fast as COPY here (benchmarks/RESULTS.md).
        if fingerprints:
            con.execute("INSERT INTO upload_records SELECT $1, $2, $3, unnest($4::BIGINT[]), $5, now()",
                        [self.endpoint, batch.partition_key, batch.kind, fingerprints, batch.batch_id])

    def close(self) -> None:
        with self._mutex:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
