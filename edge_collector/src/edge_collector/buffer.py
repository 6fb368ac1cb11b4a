"""Store-and-forward SQLite buffer: the collector's only source of truth.

Durability: WAL with ``synchronous=FULL``. In WAL mode ``NORMAL`` survives an
application crash but may lose the last commits on a power cut (the WAL is not
fsynced per commit); ``FULL`` fsyncs the WAL on every commit, so a record is
*acknowledged* (``append`` returned its seqs) only once it survives a power cut.
Batching amortises that one fsync over many rows.

Tables: ``trips`` and ``events`` are the seed-004 tables with one deviation —
``events.lat``/``lon`` are nullable (an OBD sample before the first GPS fix is
still kept) — plus ``events.extra_json`` for PIDs the v1 wire schema has no
field for (kept locally, never uploaded). Added tables: ``dtcs`` (shares the
per-trip seq space with ``events``), ``gaps`` (adapter/GPS outages),
``chunks`` (last cut of each trip) and ``uploads`` (upload state; kept apart so
``trips`` stays the seed schema).

Disk policy (``max_bytes``): when the live data reaches the limit, data of
trips the server has *confirmed* (``mark_trip_uploaded``) is pruned, oldest
first. Unconfirmed data is never deleted: if pruning is not enough, new trips
are refused above 90 % and appends above 100 % with ``BufferFullError`` (logged
at ERROR), so the caller knows exactly which samples were not stored.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

from fleet_protocol import DtcRecord, EdgeEvent, InvalidIdError, validate_vin
from fleet_protocol.events import format_ts
from pydantic import ValidationError

from edge_collector.validation import EVENT_FIELDS, fast_event_values

log = logging.getLogger(__name__)

NEW_TRIP_HEADROOM = 0.9

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trips (
  trip_id TEXT PRIMARY KEY,
  vin TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  meta_json TEXT
);
CREATE TABLE IF NOT EXISTS events (
  trip_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts TEXT NOT NULL,
  lat REAL,
  lon REAL,
  speed_kph REAL,
  rpm REAL,
  coolant_c REAL,
  throttle_pos REAL,
  soc_pct REAL,
  fuel_level_pct REAL,
  extra_json TEXT,
  PRIMARY KEY (trip_id, seq)
);
CREATE TABLE IF NOT EXISTS dtcs (
  trip_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  ts TEXT NOT NULL,
  code TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL,
  PRIMARY KEY (trip_id, seq)
);
CREATE TABLE IF NOT EXISTS gaps (
  id INTEGER PRIMARY KEY,
  trip_id TEXT,
  source TEXT NOT NULL,
  started_at TEXT NOT NULL,
  ended_at TEXT,
  reason TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
  trip_id TEXT NOT NULL,
  no INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  PRIMARY KEY (trip_id, no)
);
CREATE TABLE IF NOT EXISTS uploads (
  trip_id TEXT PRIMARY KEY,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at TEXT,
  last_error TEXT,
  uploaded_at TEXT,
  pruned_at TEXT
);
"""


class EventBufferError(Exception):
    """Base class of buffer errors."""


class BadRecordError(EventBufferError, ValueError):
    """A record failed validation; the whole batch was rejected and nothing was written."""


class BufferFullError(EventBufferError):
    """The disk budget is used up by data the server has not confirmed yet."""


class StorageError(EventBufferError):
    """SQLite could not write (I/O error...); the transaction was rolled back and nothing was stored."""


class TripStateError(EventBufferError):
    """The operation does not fit the trip's state (unknown, already ended, not ended...)."""


def _now() -> str:
    return format_ts(datetime.now(timezone.utc))


def _ts_text(value: datetime) -> str:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise BadRecordError(f"timestamp must be a timezone-aware datetime, got {value!r}")
    return format_ts(value)


class EventBuffer:
    """Thread-safe handle on the SQLite buffer (one connection behind a lock)."""

    def __init__(self, path: str | Path, *, max_bytes: int | None = None):
        self.path = Path(path)
        if max_bytes is not None and max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=10.0)
        except sqlite3.Error as exc:  # e.g. --db names a directory
            raise EventBufferError(f"{self.path} cannot be opened as a collector buffer: {exc}") from None
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript("BEGIN;" + _SCHEMA + "COMMIT;")  # all tables or none, even if killed here
        except sqlite3.DatabaseError as exc:  # e.g. --db points at some other file: say so, touch nothing
            self._db.close()
            raise EventBufferError(f"{self.path} is not a usable collector buffer: {exc}") from None
        self._next_seq: dict[str, int] = {}
        self._full_refusals = 0  # refusals since the buffer last had space (logged on change, not per sample)

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "EventBuffer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _tx(self):
        return _Transaction(self)

    # -- trips ---------------------------------------------------------------------------------
    def start_trip(self, vin: str, started_at: datetime, meta: Mapping | None = None) -> str:
        """Open a new trip (UUID4 id). Only one trip may be open at a time."""
        try:
            validate_vin(vin)
        except InvalidIdError as exc:
            raise BadRecordError(str(exc)) from None
        started = _ts_text(started_at)
        with self._lock:
            current = self.open_trip()
            if current is not None:
                raise TripStateError(f"trip {current['trip_id']} is still open; end it before starting another")
            self._ensure_space(NEW_TRIP_HEADROOM, "new trip refused")
            trip_id = str(uuid.uuid4())
            with self._tx():
                self._db.execute(
                    "INSERT INTO trips (trip_id, vin, started_at, ended_at, meta_json) VALUES (?, ?, ?, NULL, ?)",
                    (trip_id, vin, started, json.dumps(dict(meta or {}), sort_keys=True)),
                )
            self._next_seq[trip_id] = 1
            log.info("trip %s started (vin %s)", trip_id, vin)
            return trip_id

    def open_trip(self) -> dict | None:
        """The trip still open (after a restart too), with ``next_seq`` and ``last_ts``, or None."""
        with self._lock:
            row = self._db.execute(
                "SELECT trip_id, vin, started_at FROM trips WHERE ended_at IS NULL ORDER BY started_at LIMIT 1"
            ).fetchone()
            if row is None:
                return None
            trip_id, vin, started_at = row
            last_seq, last_ts = self._last_record(trip_id)
            return {"trip_id": trip_id, "vin": vin, "started_at": started_at,
                    "last_seq": last_seq, "last_ts": last_ts, "next_seq": last_seq + 1}

    def _last_record(self, trip_id: str) -> tuple[int, str | None]:
        row = self._db.execute(
            "SELECT seq, ts FROM (SELECT seq, ts FROM events WHERE trip_id = ? "
            "UNION ALL SELECT seq, ts FROM dtcs WHERE trip_id = ?) ORDER BY seq DESC LIMIT 1",
            (trip_id, trip_id),
        ).fetchone()
        return (row[0], row[1]) if row else (0, None)

    def end_trip(self, trip_id: str, ended_at: datetime) -> None:
        ended = _ts_text(ended_at)
        with self._lock:
            trip = self.trip(trip_id)
            if trip["ended_at"] is not None:
                raise TripStateError(f"trip {trip_id} already ended at {trip['ended_at']}")
            if ended < trip["started_at"]:
                ended = trip["started_at"]  # clock stepped back: never store ended < started
            with self._tx():
                self._db.execute("UPDATE trips SET ended_at = ? WHERE trip_id = ?", (ended, trip_id))
            self._next_seq.pop(trip_id, None)
            log.info("trip %s ended at %s", trip_id, ended)

    def discard_empty_trip(self, trip_id: str) -> bool:
        """Delete a trip that holds no record (it would be an empty manifest); False if it has records."""
        with self._lock, self._tx():
            if self._db.execute(
                "SELECT EXISTS(SELECT 1 FROM events WHERE trip_id = ?1) OR EXISTS(SELECT 1 FROM dtcs WHERE trip_id = ?1)",
                (trip_id,),
            ).fetchone()[0]:
                return False
            deleted = self._db.execute("DELETE FROM trips WHERE trip_id = ?", (trip_id,)).rowcount
            self._db.execute("DELETE FROM uploads WHERE trip_id = ?", (trip_id,))
            self._db.execute("UPDATE gaps SET trip_id = NULL WHERE trip_id = ?", (trip_id,))
        self._next_seq.pop(trip_id, None)
        if deleted:
            log.info("discarded trip %s: it ended without any record", trip_id)
        return bool(deleted)

    def update_trip_meta(self, trip_id: str, **values) -> None:
        """Merge ``values`` into the trip's ``meta_json`` (counters, VIN source, gap count...)."""
        with self._lock:
            meta = self.trip(trip_id)["meta"]
            meta.update(values)
            with self._tx():
                self._db.execute("UPDATE trips SET meta_json = ? WHERE trip_id = ?",
                                 (json.dumps(meta, sort_keys=True, default=str), trip_id))

    def trip(self, trip_id: str) -> dict:
        with self._lock:
            row = self._db.execute(
                "SELECT trip_id, vin, started_at, ended_at, meta_json FROM trips WHERE trip_id = ?", (trip_id,)
            ).fetchone()
        if row is None:
            raise TripStateError(f"unknown trip {trip_id!r}")
        return {"trip_id": row[0], "vin": row[1], "started_at": row[2], "ended_at": row[3],
                "meta": json.loads(row[4] or "{}")}

    def trip_vin(self, trip_id: str) -> str:
        return self.trip(trip_id)["vin"]

    def trips(self) -> list[dict]:
        """Every trip with its record count and upload state, oldest first (for ``status``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT t.trip_id, t.vin, t.started_at, t.ended_at, u.uploaded_at, u.attempts, u.last_error, "
                "(SELECT COUNT(*) FROM events e WHERE e.trip_id = t.trip_id) + "
                "(SELECT COUNT(*) FROM dtcs d WHERE d.trip_id = t.trip_id) "
                "FROM trips t LEFT JOIN uploads u USING (trip_id) ORDER BY t.started_at"
            ).fetchall()
        keys = ("trip_id", "vin", "started_at", "ended_at", "uploaded_at", "upload_attempts", "last_error", "records")
        return [dict(zip(keys, row)) for row in rows]

    # -- records -------------------------------------------------------------------------------
    def append(self, trip_id: str, records: Sequence[Mapping]) -> list[int]:
        """Store records (``kind`` "event" default, or "dtc") in one transaction; return their seqs.

        Seqs are assigned here, strictly increasing per trip, and continue from
        the stored maximum after a restart. Every record is validated against the
        wire schema first: one bad record rejects the batch and nothing is written.
        The returned seqs are acknowledged: they are committed and fsynced.
        """
        if not records:
            return []
        with self._lock:
            vin, next_seq = self._writable_trip(trip_id)
            event_rows, dtc_rows = self._validate(trip_id, vin, next_seq, records)
            self._ensure_space(1.0, f"{len(records)} records of trip {trip_id} not stored")
            with self._tx():
                if event_rows:
                    self._db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", event_rows)
                if dtc_rows:
                    self._db.executemany("INSERT INTO dtcs VALUES (?,?,?,?,?,?)", dtc_rows)
            self._next_seq[trip_id] = next_seq + len(records)
            return list(range(next_seq, next_seq + len(records)))

    def append_events(self, trip_id: str, events: Sequence[Mapping]) -> list[int]:
        return self.append(trip_id, events)

    def _writable_trip(self, trip_id: str) -> tuple[str, int]:
        trip = self.trip(trip_id)
        if trip["ended_at"] is not None:
            raise TripStateError(f"trip {trip_id} has ended; no more records can be added")
        if trip_id not in self._next_seq:
            self._next_seq[trip_id] = self._last_record(trip_id)[0] + 1
        return trip["vin"], self._next_seq[trip_id]

    @staticmethod
    def _validate(trip_id: str, vin: str, next_seq: int, records: Sequence[Mapping]):
        event_rows, dtc_rows = [], []
        for index, record in enumerate(records):
            data = dict(record)
            kind = data.pop("kind", "event")
            extra = data.pop("extra", None)
            seq = next_seq + index
            extra_json = json.dumps(extra, sort_keys=True) if extra else None
            try:
                if kind == "event":
                    values = fast_event_values(data)
                    if values is None:  # not plainly valid: pydantic decides (and coerces or explains)
                        ev = EdgeEvent(vin=vin, trip_id=trip_id, seq=seq, **data)
                        values = (_ts_text(ev.ts), *(getattr(ev, name) for name in EVENT_FIELDS))
                    event_rows.append((trip_id, seq, *values, extra_json))
                elif kind == "dtc":
                    dtc = DtcRecord(vin=vin, trip_id=trip_id, seq=seq, kind="dtc", **data)
                    dtc_rows.append((trip_id, seq, _ts_text(dtc.ts), dtc.code, dtc.description, dtc.status))
                else:
                    raise BadRecordError(f"record {index}: unknown kind {kind!r} (expected 'event' or 'dtc')")
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err.get("loc", ())) or "record"
                raise BadRecordError(
                    f"record {index} of the batch rejected, nothing stored: {where}: {err.get('msg')}"
                ) from None
            except TypeError as exc:
                raise BadRecordError(f"record {index} of the batch rejected, nothing stored: {exc}") from None
        return event_rows, dtc_rows

    def iter_records(self, trip_id: str, *, batch_size: int = 2000) -> Iterator[dict]:
        """The trip's events and DTCs as wire dicts (``to_json_dict`` shape), ordered by seq.

        Reads in bounded batches so cutting a long trip does not load it whole.
        """
        vin = self.trip_vin(trip_id)
        last = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT seq, ts, 'event', lat, lon, speed_kph, rpm, coolant_c, throttle_pos, soc_pct, "
                    "fuel_level_pct, NULL, NULL, NULL FROM events WHERE trip_id = ?1 AND seq > ?2 "
                    "UNION ALL SELECT seq, ts, 'dtc', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                    "code, description, status FROM dtcs WHERE trip_id = ?1 AND seq > ?2 "
                    "ORDER BY seq LIMIT ?3",
                    (trip_id, last, batch_size),
                ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _wire_dict(vin, trip_id, row)
            last = rows[-1][0]

    def record_count(self, trip_id: str) -> int:
        with self._lock:
            return self._db.execute(
                "SELECT (SELECT COUNT(*) FROM events WHERE trip_id = ?1) + (SELECT COUNT(*) FROM dtcs WHERE trip_id = ?1)",
                (trip_id,),
            ).fetchone()[0]

    # -- gaps and chunks -------------------------------------------------------------------------
    def record_gap(self, source: str, started_at: datetime, ended_at: datetime | None, reason: str,
                   trip_id: str | None = None) -> None:
        """Remember an outage (e.g. OBD adapter unplugged) so the hole in the data is explained."""
        with self._lock, self._tx():
            self._db.execute(
                "INSERT INTO gaps (trip_id, source, started_at, ended_at, reason) VALUES (?, ?, ?, ?, ?)",
                (trip_id, source, _ts_text(started_at), _ts_text(ended_at) if ended_at else None, reason),
            )

    def gaps(self, trip_id: str | None = None) -> list[dict]:
        with self._lock:
            sql = "SELECT trip_id, source, started_at, ended_at, reason FROM gaps"
            rows = self._db.execute(sql + (" WHERE trip_id = ?" if trip_id else "") + " ORDER BY id",
                                    (trip_id,) if trip_id else ()).fetchall()
        return [dict(zip(("trip_id", "source", "started_at", "ended_at", "reason"), r)) for r in rows]

    def record_chunks(self, trip_id: str, chunks: Sequence) -> None:
        """Replace the stored chunk list of a trip with its latest cut (``ChunkInfo`` objects)."""
        with self._lock, self._tx():
            self._db.execute("DELETE FROM chunks WHERE trip_id = ?", (trip_id,))
            self._db.executemany(
                "INSERT INTO chunks VALUES (?,?,?,?,?,?)",
                [(trip_id, c.no, c.first_seq, c.last_seq, c.size_bytes, c.sha256) for c in chunks],
            )

    # -- upload state (called by edge_collector.upload) ----------------------------------------
    def trips_ready_for_upload(self) -> list[str]:
        """Ended trips whose remote completion is not yet confirmed, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT t.trip_id FROM trips t LEFT JOIN uploads u USING (trip_id) "
                "WHERE t.ended_at IS NOT NULL AND u.uploaded_at IS NULL ORDER BY t.started_at, t.trip_id"
            ).fetchall()
        return [r[0] for r in rows]

    def mark_trip_uploaded(self, trip_id: str) -> None:
        """The server confirmed the trip complete; from now on its data may be pruned."""
        with self._lock:
            if self.trip(trip_id)["ended_at"] is None:
                raise TripStateError(f"trip {trip_id} is still open; it cannot be marked uploaded")
            with self._tx():
                self._db.execute("INSERT OR IGNORE INTO uploads (trip_id) VALUES (?)", (trip_id,))
                self._db.execute("UPDATE uploads SET uploaded_at = COALESCE(uploaded_at, ?) WHERE trip_id = ?",
                                 (_now(), trip_id))

    def record_upload_attempt(self, trip_id: str, error: str | None) -> None:
        self.trip(trip_id)
        with self._lock, self._tx():
            self._db.execute("INSERT OR IGNORE INTO uploads (trip_id) VALUES (?)", (trip_id,))
            self._db.execute(
                "UPDATE uploads SET attempts = attempts + 1, last_attempt_at = ?, last_error = ? WHERE trip_id = ?",
                (_now(), error, trip_id),
            )

    def upload_state(self, trip_id: str) -> dict:
        with self._lock:
            row = self._db.execute(
                "SELECT attempts, last_attempt_at, last_error, uploaded_at, pruned_at FROM uploads WHERE trip_id = ?",
                (trip_id,),
            ).fetchone()
        keys = ("attempts", "last_attempt_at", "last_error", "uploaded_at", "pruned_at")
        return dict(zip(keys, row)) if row else dict.fromkeys(keys) | {"attempts": 0}

    # -- disk budget ---------------------------------------------------------------------------
    def used_bytes(self) -> int:
        """Bytes of live pages in the database (free pages are reused, so they do not count)."""
        with self._lock:
            pages = self._db.execute("PRAGMA page_count").fetchone()[0]
            free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
            size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def prune_uploaded(self, *, until_bytes: int | None = None) -> int:
        """Delete records of server-confirmed trips, oldest first; return how many trips were pruned."""
        pruned = 0
        with self._lock:
            rows = self._db.execute(
                "SELECT trip_id FROM uploads WHERE uploaded_at IS NOT NULL AND pruned_at IS NULL ORDER BY uploaded_at"
            ).fetchall()
            for (trip_id,) in rows:
                if until_bytes is not None and self.used_bytes() < until_bytes:
                    break
                with self._tx():
                    for table in ("events", "dtcs", "chunks"):
                        self._db.execute(f"DELETE FROM {table} WHERE trip_id = ?", (trip_id,))
                    self._db.execute("UPDATE uploads SET pruned_at = ? WHERE trip_id = ?", (_now(), trip_id))
                pruned += 1
                log.warning("pruned records of uploaded trip %s to free buffer space", trip_id)
        return pruned

    def _ensure_space(self, fraction: float, consequence: str) -> None:
        if self.max_bytes is None:
            return
        limit = int(self.max_bytes * fraction)
        if self.used_bytes() >= limit:
            self.prune_uploaded(until_bytes=limit)
        used = self.used_bytes()
        if used >= limit:
            raise self._refuse(f"buffer full: {used} of {self.max_bytes} bytes hold data not yet confirmed by the "
                               f"server; {consequence}")

    def _refuse(self, message: str) -> BufferFullError:
        # Loud once when the buffer fills, then every 1000th refusal: one line per sample would flood the journal.
        if self._full_refusals % 1000 == 0:
            log.error("%s (refusal #%d since it filled)", message, self._full_refusals + 1)
        self._full_refusals += 1
        return BufferFullError(message)

    def _committed(self) -> None:
        if self._full_refusals:
            log.warning("buffer has space again (%d bytes used); %d writes were refused while it was full",
                        self.used_bytes(), self._full_refusals)
            self._full_refusals = 0

    def _write_failed(self, error: sqlite3.Error) -> EventBufferError:
        if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:  # the disk itself, not our budget
            return self._refuse(f"disk full: SQLite could not write {self.path} ({error}); nothing was stored")
        log.error("buffer write to %s failed, nothing stored: %s", self.path, error)
        return StorageError(f"buffer write to {self.path} failed, nothing stored: {error}")

    def stats(self) -> dict:
        with self._lock:
            count = lambda sql: self._db.execute(sql).fetchone()[0]  # noqa: E731
            return {
                "path": str(self.path),
                "used_bytes": self.used_bytes(),
                "max_bytes": self.max_bytes,
                "trips": count("SELECT COUNT(*) FROM trips"),
                "open_trips": count("SELECT COUNT(*) FROM trips WHERE ended_at IS NULL"),
                "pending_upload": len(self.trips_ready_for_upload()),
                "events": count("SELECT COUNT(*) FROM events"),
                "dtcs": count("SELECT COUNT(*) FROM dtcs"),
                "gaps": count("SELECT COUNT(*) FROM gaps"),
            }


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rollback on error); the commit is the acknowledgement.

    SQLite errors (disk full, I/O) leave no transaction open — the next write
    must not fail with "cannot start a transaction within a transaction" — and
    surface as ``BufferFullError``/``StorageError`` so callers handle one family.
    """

    def __init__(self, buffer: EventBuffer):
        self._buffer, self._db = buffer, buffer._db

    def __enter__(self):
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            raise self._buffer._write_failed(error) from error

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                exc = error
            else:
                self._buffer._committed()
                return False
        if self._db.in_transaction:  # SQLite may already have rolled back (e.g. SQLITE_FULL)
            try:
                self._db.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("rollback failed")
        if isinstance(exc, sqlite3.Error):
            raise self._buffer._write_failed(exc) from exc
        return False


def _wire_dict(vin: str, trip_id: str, row: tuple) -> dict:
    seq, ts, kind = row[0], row[1], row[2]
    data = {"schema_version": 1, "vin": vin, "trip_id": trip_id, "seq": seq, "ts": ts, "kind": kind}
    if kind == "event":
        data.update(zip(EVENT_FIELDS, row[3:11]))
    else:
        data.update(code=row[11], description=row[12], status=row[13])
    return data


__all__ = [
    "BadRecordError",
    "BufferFullError",
    "EventBuffer",
    "EventBufferError",
    "StorageError",
    "TripStateError",
]
