"""The upload ledger's interface and every query, shared by its two stores (DuckDB file, PostgreSQL).

Why one class for both: the exactly-once rule lives in these queries (a batch's
ack, its fingerprints and its dead letters in ONE transaction; resolved ids
likewise), so the embedded ledger (``ledger.UploadLedger``) and the deployed
one (``ledger_postgres.PostgresLedger``) must not drift. The SQL is written
once with ``$n`` parameters, which DuckDB and psycopg's ``RawCursor`` both
take, and the DDL uses types both understand. A store supplies only how a
connection is held (``_connect``/``session``/``close``), how a batch's acked
fingerprints are bulk-inserted, and where it lives (``location``).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fleet_assets.analytics.batching import Batch, Item
from fleet_assets.analytics.identity import VehicleIds

SCHEMA_SQL = """
-- No primary key on purpose: maintaining it cost ~8x the insert (65 ms per 5000 rows); a fingerprint
-- is inserted only after its batch was acked and only pending fingerprints are ever sent, and readers
-- use sets / DISTINCT, so a key adds nothing but cost.
CREATE TABLE IF NOT EXISTS upload_records (
    endpoint VARCHAR NOT NULL, partition_key VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    fingerprint BIGINT NOT NULL, batch_id VARCHAR NOT NULL, acked_at TIMESTAMPTZ NOT NULL);
CREATE TABLE IF NOT EXISTS upload_batches (
    endpoint VARCHAR NOT NULL, partition_key VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL, records INTEGER NOT NULL, dead_lettered INTEGER NOT NULL,
    completed_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (endpoint, batch_id));
CREATE TABLE IF NOT EXISTS dead_letters (
    endpoint VARCHAR NOT NULL, partition_key VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    fingerprint BIGINT NOT NULL, batch_id VARCHAR NOT NULL, record_json VARCHAR NOT NULL,
    error VARCHAR NOT NULL, dead_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (endpoint, partition_key, kind, fingerprint));
CREATE TABLE IF NOT EXISTS configurations (
    endpoint VARCHAR NOT NULL, device_id INTEGER NOT NULL, vehicle_id INTEGER NOT NULL,
    fleet_id INTEGER NOT NULL, organization_id INTEGER NOT NULL, configuration_id INTEGER NOT NULL,
    PRIMARY KEY (endpoint, device_id, vehicle_id, fleet_id, organization_id));
CREATE TABLE IF NOT EXISTS messages (
    endpoint VARCHAR NOT NULL, message_key VARCHAR NOT NULL, message_id INTEGER NOT NULL,
    PRIMARY KEY (endpoint, message_key));
"""
TABLES = ("upload_records", "upload_batches", "dead_letters", "configurations", "messages")


class LedgerLockedError(RuntimeError):
    """The ledger stayed locked by another process past the retry budget."""


@dataclass(frozen=True)
class LedgerPosition:
    acked_batches: int
    acked_records: int
    dead_lettered: int


class Ledger(ABC):
    """All ledger reads/writes for one backend identity (``endpoint``: whose acks these are)."""

    endpoint: str
    path: Path | None = None  # the ledger file, when the ledger is one
    position_part_rows: int | None = None  # see ``_acked_records``; None: one DISTINCT (the server spills)

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the ledger lives, for logs and UI metadata (never a password)."""

    @abstractmethod
    def session(self) -> AbstractContextManager[None]:
        """Several operations in ONE critical section (e.g. the reads that plan an upload). Keep it short."""

    @abstractmethod
    def _connect(self) -> AbstractContextManager[Any]:
        """A cursor-like object (``execute``/``executemany``/``fetch*``) for one operation."""

    @abstractmethod
    def _insert_acked(self, con: Any, batch: Batch, fingerprints: list[int]) -> None:
        """Bulk-insert a batch's acked fingerprints inside the caller's transaction (the hot write)."""

    @abstractmethod
    def close(self) -> None:
        """Release the store's connection (the next operation opens one again)."""

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._connect() as con:
            con.execute("BEGIN")
            try:
                yield con
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except Exception:  # noqa: BLE001 - a lost connection rolls back by itself; the first error wins
                    pass
                raise
            con.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        with self._connect() as con:
            return con.execute(sql, params).fetchall()

    def _count(self, con: Any, table: str, partition_key: str) -> int:
        return con.execute(f"SELECT count(*) FROM {table} WHERE endpoint = $1 AND partition_key = $2",  # noqa: S608
                           [self.endpoint, partition_key]).fetchone()[0]

    def ensure(self) -> None:
        with self._connect():
            pass

    # ---------------------------------------------------------------- id caches
    def configuration_ids(self) -> dict[VehicleIds, int]:
        rows = self._rows("SELECT device_id, vehicle_id, fleet_id, organization_id, configuration_id "
                          "FROM configurations WHERE endpoint = $1", [self.endpoint])
        return {VehicleIds(*row[:4]): row[4] for row in rows}

    def save_configurations(self, ids: dict[VehicleIds, int]) -> None:
        # Sorted: concurrent upserts of overlapping keys then lock rows in one order (no deadlock in Postgres).
        with self._connect() as con:
            con.executemany(
                "INSERT INTO configurations VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT "
                "(endpoint, device_id, vehicle_id, fleet_id, organization_id) "
                "DO UPDATE SET configuration_id = EXCLUDED.configuration_id",
                [[self.endpoint, v.device_id, v.vehicle_id, v.fleet_id, v.organization_id, cid]
                 for v, cid in sorted(ids.items())])

    def message_ids(self) -> dict[str, int]:
        return dict(self._rows("SELECT message_key, message_id FROM messages WHERE endpoint = $1", [self.endpoint]))

    def save_messages(self, ids: dict[str, int]) -> None:
        with self._connect() as con:
            con.executemany("INSERT INTO messages VALUES ($1, $2, $3) ON CONFLICT (endpoint, message_key) "
                            "DO UPDATE SET message_id = EXCLUDED.message_id",
                            [[self.endpoint, key, mid] for key, mid in sorted(ids.items())])

    def forget_ids(self) -> None:
        """Drop the cached configuration and message ids (the backend no longer knows them)."""
        with self._transaction() as con:
            con.execute("DELETE FROM configurations WHERE endpoint = $1", [self.endpoint])
            con.execute("DELETE FROM messages WHERE endpoint = $1", [self.endpoint])

    def forget_backend(self) -> dict[str, int]:
        """The backend was reset: forget everything it acknowledged, so every record is sent again.

        Returns the rows removed per table. Other backends' rows are untouched.
        """
        removed = {}
        with self._transaction() as con:
            for table in TABLES:
                removed[table], = con.execute(f"SELECT count(*) FROM {table} WHERE endpoint = $1",  # noqa: S608
                                              [self.endpoint]).fetchone()
                con.execute(f"DELETE FROM {table} WHERE endpoint = $1", [self.endpoint])  # noqa: S608
        return removed

    # ------------------------------------------------------------------ records
    def resolved_fingerprints(self, partition_key: str, kind: str) -> set[int]:
        """Fingerprints already acknowledged or dead-lettered: never sent again."""
        rows = self._rows(
            "SELECT fingerprint FROM upload_records WHERE endpoint = $1 AND partition_key = $2 AND kind = $3 "
            "UNION ALL SELECT fingerprint FROM dead_letters WHERE endpoint = $1 AND partition_key = $2 "
            "AND kind = $3", [self.endpoint, partition_key, kind])
        return {r[0] for r in rows}

    def resolved_kinds(self, partition_key: str) -> set[str]:
        """The kinds of which the day has anything acknowledged or dead-lettered (a fresh day: none)."""
        rows = self._rows("SELECT DISTINCT kind FROM upload_records WHERE endpoint = $1 AND partition_key = $2 "
                          "UNION SELECT DISTINCT kind FROM dead_letters WHERE endpoint = $1 AND partition_key = $2",
                          [self.endpoint, partition_key])
        return {r[0] for r in rows}

    def resolved_among(self, partition_key: str, kind: str, fingerprints: np.ndarray) -> np.ndarray:
        """Which of ``fingerprints`` (one shard's records) are acknowledged or dead-lettered, sorted.

        Why not ``resolved_fingerprints``: a day of ~10^8 records holds ~10^8 acked fingerprints (GBs as a
        set); asking per shard keeps the answer within the shard's records, whatever the day's size.
        """
        if not len(fingerprints):
            return np.empty(0, np.int64)
        sql = ("SELECT DISTINCT fingerprint FROM (SELECT fingerprint FROM upload_records WHERE endpoint = $1 "
               "AND partition_key = $2 AND kind = $3 UNION ALL SELECT fingerprint FROM dead_letters "
               "WHERE endpoint = $1 AND partition_key = $2 AND kind = $3) AS resolved "
               "WHERE fingerprint IN (SELECT fingerprint FROM {candidates})")
        with self._connect() as con:
            rows = self._select_among(con, sql, [self.endpoint, partition_key, kind],
                                      np.asarray(fingerprints, np.int64))
        return np.sort(np.fromiter((r[0] for r in rows), np.int64, len(rows)))

    def _select_among(self, con: Any, sql: str, params: list, fingerprints: np.ndarray) -> list[tuple]:
        """``sql`` with ``{candidates}`` as a relation of ``fingerprints`` (column ``fingerprint``): an array
        parameter here (PostgreSQL); the DuckDB ledger registers an Arrow table instead (faster to bind)."""
        return con.execute(sql.format(candidates="unnest($4::BIGINT[]) AS candidates(fingerprint)"),
                           [*params, fingerprints.tolist()]).fetchall()

    def record_batch(self, batch: Batch, acked: list[Item], dead: list[tuple[Item, str]],
                     complete: bool = True) -> None:
        """Record a resolved batch: acked fingerprints, dead letters and the batch row, atomically.

        ``complete=False``: only part of the batch was resolved (the upload stopped mid-batch); its acks
        are recorded, but no batch row, so the rest is sent on the next run.
        """
        fingerprints = [i.fingerprint for i in acked]
        dead_rows = [[self.endpoint, batch.partition_key, batch.kind, item.fingerprint, batch.batch_id,
                      json.dumps({"header": item.header, "point": item.point}, sort_keys=True), error]
                     for item, error in dead]
        with self._transaction() as con:
            self._insert_acked(con, batch, fingerprints)
            if dead_rows:
                con.executemany("INSERT INTO dead_letters VALUES ($1, $2, $3, $4, $5, $6, $7, now()) "
                                "ON CONFLICT DO NOTHING", dead_rows)
            if complete:
                con.execute("INSERT INTO upload_batches VALUES ($1, $2, $3, $4, $5, $6, now()) ON CONFLICT DO NOTHING",
                            [self.endpoint, batch.partition_key, batch.kind, batch.batch_id, len(batch.items),
                             len(dead)])

    def completed_batch_ids(self, partition_key: str) -> set[str]:
        rows = self._rows("SELECT batch_id FROM upload_batches WHERE endpoint = $1 AND partition_key = $2",
                          [self.endpoint, partition_key])
        return {r[0] for r in rows}

    def position(self, partition_key: str) -> LedgerPosition:
        with self._connect() as con:  # one critical section for the three counts
            return LedgerPosition(self._count(con, "upload_batches", partition_key),
                                  self._acked_records(con, partition_key),
                                  self._count(con, "dead_letters", partition_key))

    def _acked_records(self, con: Any, partition_key: str) -> int:
        """Distinct (kind, fingerprint) acked for the day; past ``position_part_rows`` rows counted by fingerprint
        range (disjoint ranges: the sum is exact), so one DISTINCT never holds more than a part."""
        parts = 1
        if self.position_part_rows:
            parts = max(1, -(-self._count(con, "upload_records", partition_key) // self.position_part_rows))
        bounds = [None, *(-2**63 + 2**64 * i // parts for i in range(1, parts)), None]
        total = 0
        for low, high in zip(bounds, bounds[1:]):
            params: list[Any] = [self.endpoint, partition_key]
            where = "endpoint = $1 AND partition_key = $2"
            for op, bound in ((">=", low), ("<", high)):
                if bound is not None:
                    params.append(bound)
                    where += f" AND fingerprint {op} ${len(params)}"
            total += con.execute("SELECT count(*) FROM (SELECT DISTINCT kind, fingerprint FROM upload_records "  # noqa: S608
                                 f"WHERE {where}) AS acked", params).fetchone()[0]
        return total

    def requeue_dead_letters(self, partition_key: str) -> int:
        """Forget the partition's dead letters so the next upload sends them again (after a backend fix)."""
        with self._transaction() as con:
            count = self._count(con, "dead_letters", partition_key)
            con.execute("DELETE FROM dead_letters WHERE endpoint = $1 AND partition_key = $2",
                        [self.endpoint, partition_key])
        return count

    def dead_letter_rows(self, partition_key: str) -> list[dict]:
        with self._connect() as con:
            cur = con.execute("SELECT kind, fingerprint, batch_id, record_json, error FROM dead_letters "
                              "WHERE endpoint = $1 AND partition_key = $2 ORDER BY kind, fingerprint",
                              [self.endpoint, partition_key])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]
