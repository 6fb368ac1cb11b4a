"""Where the sandbox backend keeps what it received: in memory, or in a SQLite file that outlives runs.

Why a file: the upload ledger (``analytics_ledger.duckdb``) outlives every
run, so the backend it records acks from must too; otherwise the next run
sends configuration ids that a fresh backend never issued. SQLite in WAL
mode with a busy timeout lets several processes (runs of different days, the
served sandbox of ``make dev``) share one store; every request is one
``BEGIN IMMEDIATE`` transaction, so ids are issued once across processes.

Each store has a ``backend_id`` (a random UUID made when the store is
created, or reset): the embedded backend's identity in the ledger. A deleted
or reset store is a different backend, so the ledger never reuses its ids.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Iterator

import orjson

from fleet_assets.analytics.operations import KINDS  # what the backend stores rows of: one kind per data mutation


SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS configurations (
    id INTEGER PRIMARY KEY AUTOINCREMENT, natural_key TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, natural_key TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL, natural_key TEXT NOT NULL, value TEXT NOT NULL,
    received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (kind, natural_key)) WITHOUT ROWID;
"""

# Rows per kind, kept by triggers (so every writer of the file keeps them, whatever its version): counting a
# store of ~10^8 records took longer than a request, and /stats is polled while an upload runs.
COUNTS_SCHEMA = (
    "CREATE TABLE record_counts (kind TEXT PRIMARY KEY, n INTEGER NOT NULL)",
    "INSERT INTO record_counts SELECT kind, count(*) FROM records GROUP BY kind",
    "CREATE TRIGGER records_inserted AFTER INSERT ON records "
    "BEGIN UPDATE record_counts SET n = n + 1 WHERE kind = NEW.kind; END",
    "CREATE TRIGGER records_deleted AFTER DELETE ON records "
    "BEGIN UPDATE record_counts SET n = n - 1 WHERE kind = OLD.kind; END",
)


class MemoryStore:
    """Dicts in this process: gone with it (tests, benchmarks, ``serve`` without ``--store``)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.backend_id = str(uuid.uuid4())
        self.configurations: dict[tuple, dict] = {}
        self.messages: dict[tuple, dict] = {}
        self.rows: dict[str, dict[tuple, Any]] = {k: {} for k in KINDS}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        yield

    @staticmethod
    def _get_or_create(table: dict[tuple, dict], key: tuple, body: dict) -> dict:
        if key not in table:
            table[key] = {"id": len(table) + 1, **body}
        return table[key]

    def configuration(self, key: tuple, body: dict) -> dict:
        return self._get_or_create(self.configurations, key, body)

    def configuration_by_id(self, cid: int) -> dict | None:
        return next((c for c in self.configurations.values() if c["id"] == cid), None)

    def message(self, key: tuple, body: dict) -> dict:
        return self._get_or_create(self.messages, key, body)

    def message_by_id(self, mid: int) -> dict | None:
        return next((m for m in self.messages.values() if m["id"] == mid), None)

    def upsert(self, kind: str, writes: list[tuple[tuple, Any]]) -> int:
        """Store ``writes``; returns how many keys were already there (re-deliveries)."""
        rows = self.rows[kind]
        duplicates = 0
        for key, value in writes:
            duplicates += key in rows
            rows[key] = value
        return duplicates

    def counts(self) -> dict[str, int]:
        return {kind: len(rows) for kind, rows in self.rows.items()}

    def id_counts(self) -> tuple[int, int]:
        return len(self.configurations), len(self.messages)

    def latest(self, kind: str, limit: int) -> list[dict]:
        return [{"key": list(k), "value": v} for k, v in list(self.rows[kind].items())[-limit:]]


_PLAIN_KEY_PARTS = frozenset((int, str, type(None)))


def _key(key: tuple) -> str:
    """The natural key's text, exactly ``json.dumps(list(key), separators=(",", ":"))`` (stores written by
    earlier versions hold that text, and a re-delivery must find its row)."""
    return json.dumps(list(key), separators=(",", ":"))


def _keys(keys: list[tuple]) -> list[str]:
    """``_key`` of every key, ~10x faster: orjson writes the same text when every part is an int, str or None
    and the output is printable ASCII (the standard library escapes non-ASCII and DEL as ``\\uXXXX``, orjson
    keeps them raw: those keys, and ints past 64 bits, take the standard path)."""
    if {type(part) for key in keys for part in key} <= _PLAIN_KEY_PARTS:
        try:
            texts = [orjson.dumps(key) for key in keys]
        except TypeError:  # an int past 64 bits
            pass
        else:
            return [text.decode() if text.isascii() and b"\x7f" not in text else _key(key)
                    for text, key in zip(texts, keys)]
    return [_key(key) for key in keys]


def _value(value: Any) -> str:
    """A stored value's JSON (read back by ``latest``): orjson, else the standard library (ints past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


class SqliteStore:
    """One SQLite file shared by every process and run that uses it (``FLEET_DATA_DIR``)."""

    def __init__(self, path: Path | str, busy_timeout_seconds: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection per store object; the sandbox serialises its use with its own lock.
        self._con = sqlite3.connect(self.path, timeout=busy_timeout_seconds, isolation_level=None,
                                    check_same_thread=False)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        # A day of ~10^8 records is a ~10 GB B-tree: keep its interior pages in this process (64 MB at most).
        self._con.execute("PRAGMA cache_size=-65536")
        self._con.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._ensure_counts()
        self.backend_id = self._backend_id()

    def _ensure_counts(self) -> None:
        """The per-kind counts table and its triggers; a store written by an older version is counted once."""
        with self.transaction():
            if not self._con.execute("SELECT 1 FROM sqlite_master WHERE name = 'record_counts'").fetchone():
                for statement in COUNTS_SCHEMA:
                    self._con.execute(statement)
            self._con.executemany("INSERT OR IGNORE INTO record_counts VALUES (?, 0)", [(k,) for k in KINDS])

    def _backend_id(self) -> str:
        self._con.execute("INSERT OR IGNORE INTO meta VALUES ('backend_id', ?)", [str(uuid.uuid4())])
        return self._con.execute("SELECT value FROM meta WHERE key = 'backend_id'").fetchone()[0]

    def close(self) -> None:
        self._con.close()

    def reset(self) -> None:
        """Forget everything; the store becomes a new backend (new ``backend_id``)."""
        with self.transaction():
            for table in ("configurations", "messages", "records", "meta"):
                self._con.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed table names
            self._con.execute("DELETE FROM sqlite_sequence WHERE name IN ('configurations', 'messages')")
        self.backend_id = self._backend_id()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One request = one write transaction (``BEGIN IMMEDIATE``: other processes wait, bounded)."""
        with self._lock:
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _get_or_create(self, table: str, key: tuple, body: dict) -> dict:
        natural = _key(key)
        self._con.execute(f"INSERT OR IGNORE INTO {table} (natural_key, body) VALUES (?, ?)",  # noqa: S608
                          [natural, json.dumps(body)])
        cid, stored = self._con.execute(f"SELECT id, body FROM {table} WHERE natural_key = ?",  # noqa: S608
                                        [natural]).fetchone()
        return {"id": cid, **json.loads(stored)}

    def _by_id(self, table: str, row_id: int) -> dict | None:
        row = self._con.execute(f"SELECT id, body FROM {table} WHERE id = ?", [row_id]).fetchone()  # noqa: S608
        return {"id": row[0], **json.loads(row[1])} if row else None

    def configuration(self, key: tuple, body: dict) -> dict:
        return self._get_or_create("configurations", key, body)

    def configuration_by_id(self, cid: int) -> dict | None:
        return self._by_id("configurations", cid)

    def message(self, key: tuple, body: dict) -> dict:
        return self._get_or_create("messages", key, body)

    def message_by_id(self, mid: int) -> dict | None:
        return self._by_id("messages", mid)

    def upsert(self, kind: str, writes: list[tuple[tuple, Any]]) -> int:
        # received_at: the request's time, computed once (the column default's format), not per row in SQL
        at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        rows = [(kind, natural, _value(value), at)
                for natural, (_, value) in zip(_keys([key for key, _ in writes]), writes)]
        before = self._count(kind)  # total_changes would count the counting trigger's updates too
        self._con.executemany("INSERT OR IGNORE INTO records (kind, natural_key, value, received_at) "
                              "VALUES (?, ?, ?, ?)", rows)
        duplicates = len(rows) - (self._count(kind) - before)
        if duplicates:  # re-deliveries overwrite (upsert by natural key), like the in-memory store
            self._con.executemany("UPDATE records SET value = ?3 WHERE kind = ?1 AND natural_key = ?2",
                                  [row[:3] for row in rows])
        return duplicates

    def _count(self, kind: str) -> int:
        return self._con.execute("SELECT n FROM record_counts WHERE kind = ?", [kind]).fetchone()[0]

    def counts(self) -> dict[str, int]:
        with self._lock:
            found = dict(self._con.execute("SELECT kind, n FROM record_counts").fetchall())
        return {kind: found.get(kind, 0) for kind in KINDS}

    def id_counts(self) -> tuple[int, int]:
        with self._lock:
            return (self._con.execute("SELECT count(*) FROM configurations").fetchone()[0],
                    self._con.execute("SELECT count(*) FROM messages").fetchone()[0])

    def latest(self, kind: str, limit: int) -> list[dict]:
        with self._lock:
            rows = self._con.execute("SELECT natural_key, value, received_at FROM records WHERE kind = ? "
                                     "ORDER BY received_at DESC LIMIT ?", [kind, limit]).fetchall()
        return [{"key": json.loads(k), "value": json.loads(v), "received_at": at} for k, v, at in rows]
