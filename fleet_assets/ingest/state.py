"""The ingest service's shared state: completion log, per-trip writer lock and device keys.

Why an interface with two implementations: the embedded default keeps today's
files (a create-only marker per log entry, ``flock`` per trip, a keys file), which
only hold together on one host; several ``fleet-ingest-server`` replicas need
the same three things agreed across hosts, which Postgres gives
(``FLEET_STATE_URL``):

- completion log: table ``ingest_completions`` numbered from a one-row counter
  (``UPDATE ... RETURNING`` in the inserting transaction). The counter row stays
  locked until commit, so commit order is seq order and a rollback leaves no gap:
  a reader of ``seq > cursor`` never skips an entry that commits later.
  ``trip_id`` is unique, so a completion retried after a crash gets its old number.
- trip lock: a session advisory lock keyed on the trip id; Postgres drops it when the
  holder's connection dies (a killed replica never leaves a trip locked).
- device keys: table ``ingest_devices`` of sha256 digests (never a key).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from fleet_assets.storage.objects import ObjectStore

MARKER_DIGITS = 12


@dataclass(frozen=True)
class CompletionMarker:
    seq: int
    trip_id: str
    vin: str
    days: list[str]
    event_count: int


class IngestState(Protocol):
    def trip_lock(self, trip_id: str): ...  # context manager: one writer per trip
    def append_completion(self, payload: dict) -> int: ...
    def read_completions(self, after: int, limit: int | None = None) -> list[CompletionMarker]: ...


class FileState:
    """Embedded state: the log as create-only objects ``<prefix>/completed/<seq>.json``, ``flock`` per trip.

    The log has no gaps: a writer claims number n with a create-only write and only tries n+1 after n
    exists, so a reader holding cursor c reads c+1, c+2, ... until the first missing entry.
    """

    def __init__(self, store: ObjectStore, prefix: str, lock_dir: Path):
        self.store, self.prefix, self.lock_dir = store, prefix, Path(lock_dir)

    def marker_key(self, seq: int) -> str:
        return f"{self.prefix}/completed/{seq:0{MARKER_DIGITS}d}.json".lstrip("/")

    @contextmanager
    def trip_lock(self, trip_id: str) -> Iterator[None]:
        """Serialise writers of one trip (threads and processes on this host)."""
        lock_path = self.lock_dir / "trips" / trip_id / ".lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def append_completion(self, payload: dict) -> int:
        hint_key = f"{self.prefix}/completed/next".lstrip("/")
        try:
            seq = max(1, int(self.store.read(hint_key) or b"1"))
        except ValueError:
            seq = 1
        while not self.store.create(self.marker_key(seq), json_bytes(payload)):
            seq += 1
        self.store.write(hint_key, str(seq + 1).encode())
        return seq

    def read_completions(self, after: int, limit: int | None = None) -> list[CompletionMarker]:
        markers: list[CompletionMarker] = []
        seq = after + 1
        while limit is None or len(markers) < limit:
            raw = self.store.read(self.marker_key(seq))
            if raw is None:
                break
            payload = json.loads(raw)
            markers.append(CompletionMarker(seq=seq, trip_id=payload["trip_id"], vin=payload["vin"],
                                            days=list(payload["days"]), event_count=int(payload["event_count"])))
            seq += 1
        return markers


SCHEMA_STEPS = [
    """
    CREATE TABLE ingest_completion_counter (id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id), last_seq BIGINT NOT NULL);
    INSERT INTO ingest_completion_counter (id, last_seq) VALUES (TRUE, 0);
    CREATE TABLE ingest_completions (
        seq BIGINT PRIMARY KEY,
        trip_id TEXT NOT NULL UNIQUE,
        vin TEXT NOT NULL,
        days TEXT[] NOT NULL,
        event_count BIGINT NOT NULL,
        completed_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    CREATE TABLE ingest_devices (
        key_sha256 TEXT PRIMARY KEY CHECK (length(key_sha256) = 64),
        device TEXT NOT NULL,
        vins TEXT[] NOT NULL,
        created_at TIMESTAMPTZ NOT NULL DEFAULT now()
    );
    """,
]
_TRIP_LOCK_NAMESPACE = b"fleet-ingest-trip:"


def trip_lock_key(trip_id: str) -> int:
    """A signed 64-bit advisory-lock key for a trip (collisions only serialise two trips, never corrupt)."""
    return int.from_bytes(hashlib.sha256(_TRIP_LOCK_NAMESPACE + trip_id.encode()).digest()[:8], "big", signed=True)


class PostgresState:
    """Shared state in Postgres (``FLEET_STATE_URL``); thread-safe, a small pool of autocommit connections."""

    def __init__(self, url: str, *, max_idle: int = 8):
        from fleet_assets.state.postgres import connect, ensure_schema

        self.url, self._connect = url, connect
        self._idle: queue.LifoQueue = queue.LifoQueue()
        self._max_idle = max_idle
        self._ensure_schema, self._ready = ensure_schema, False

    def check(self) -> None:
        """Connect and create/upgrade the ingest schema now (start-up); raises ``StateError`` naming the setting."""
        with self._conn():
            pass

    @contextmanager
    def _conn(self):
        """A pooled connection; closed instead of pooled if it is broken or left inside a transaction."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect(self.url, autocommit=True)
            if not self._ready:  # once per process: versioned, idempotent, safe under concurrent start-ups
                try:
                    self._ensure_schema(conn, "ingest", SCHEMA_STEPS)
                except BaseException:
                    conn.close()
                    raise
                self._ready = True
        try:
            yield conn
        finally:
            from psycopg.pq import TransactionStatus

            if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE \
                    or self._idle.qsize() >= self._max_idle:
                conn.close()
            else:
                self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    @contextmanager
    def trip_lock(self, trip_id: str) -> Iterator[None]:
        key = trip_lock_key(trip_id)
        with self._conn() as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def append_completion(self, payload: dict) -> int:
        with self._conn() as conn, conn.transaction():
            row = conn.execute("SELECT seq FROM ingest_completions WHERE trip_id = %s", (payload["trip_id"],)).fetchone()
            if row is not None:  # a completion retried after a crash between log and completed.json
                return int(row[0])
            (seq,) = conn.execute("UPDATE ingest_completion_counter SET last_seq = last_seq + 1 RETURNING last_seq"
                                  ).fetchone()
            conn.execute(
                "INSERT INTO ingest_completions (seq, trip_id, vin, days, event_count) VALUES (%s, %s, %s, %s, %s)",
                (seq, payload["trip_id"], payload["vin"], list(payload["days"]), int(payload["event_count"])),
            )
            return int(seq)

    def read_completions(self, after: int, limit: int | None = None) -> list[CompletionMarker]:
        with self._conn() as conn:
            rows = conn.execute(
                "SELECT seq, trip_id, vin, days, event_count FROM ingest_completions WHERE seq > %s ORDER BY seq "
                "LIMIT %s", (after, limit),
            ).fetchall()
        return [CompletionMarker(seq=int(s), trip_id=t, vin=v, days=list(d), event_count=int(n))
                for s, t, v, d, n in rows]

    # ---- device keys (sha256 only) ----
    def device_by_hash(self, digest: str) -> tuple[str, list[str]] | None:
        with self._conn() as conn:
            row = conn.execute("SELECT device, vins FROM ingest_devices WHERE key_sha256 = %s", (digest,)).fetchone()
        return None if row is None else (row[0], list(row[1]))

    def add_device(self, digest: str, device: str, vins: list[str]) -> None:
        with self._conn() as conn:
            conn.execute("INSERT INTO ingest_devices (key_sha256, device, vins) VALUES (%s, %s, %s)",
                         (digest, device, vins))


def json_bytes(payload: dict) -> bytes:
    return (json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n").encode()
