"""The trip landing zone on disk: layout, atomic writes and the completion log.

Layout under ``DataLayout.landing_dir`` (fleet_assets.storage.layout)::

    trips/<trip_id>/trip.json              vin, started_at, creating device
    trips/<trip_id>/chunks/<n>.ndjson.gz   accepted chunk body, byte-exact
    trips/<trip_id>/chunks/<n>.json        sidecar (sha256, size, seq range, days);
                                           its presence is what makes chunk n "stored"
    trips/<trip_id>/manifest.json          the accepted manifest
    trips/<trip_id>/completed.json         written last: the trip is complete
    days/<YYYY-MM-DD>/<trip_id>            empty index file: the trip has records that day
    completed/<seq:012d>.json              append-only completion log, seq 1, 2, 3 ...

Every file is written to a hidden temp name in its directory, fsynced and then
renamed (or hard-linked, when it must not already exist), so readers never see
half a file and a crash leaves only ignorable ``.``-prefixed debris.

The completion log has no gaps: a writer claims number n with ``os.link``
(atomic, fails if taken) and only tries n+1 after n exists. A reader holding
cursor c therefore reads ``c+1, c+2, ...`` until the first missing file, so a
sensor tick costs O(new trips), however many trips the zone holds.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from fleet_protocol import validate_chunk_no, validate_trip_id

from fleet_assets.storage.parquet_partitions import fsync_path  # same durability rule as the datasets

MARKER_DIGITS = 12


@dataclass(frozen=True)
class CompletionMarker:
    seq: int
    trip_id: str
    vin: str
    days: list[str]
    event_count: int


class LandingZone:
    """Paths and primitive atomic operations; no business rules (see ``service``)."""

    def __init__(self, root: Path | str, *, fsync: bool = True):
        self.root = Path(root)
        self.fsync = fsync

    # ---- paths (ids are validated before they touch a path) ----
    def trip_dir(self, trip_id: str) -> Path:
        return self.root / "trips" / validate_trip_id(trip_id)

    def chunk_path(self, trip_id: str, chunk_no: int) -> Path:
        return self.trip_dir(trip_id) / "chunks" / f"{validate_chunk_no(chunk_no)}.ndjson.gz"

    def chunk_sidecar_path(self, trip_id: str, chunk_no: int) -> Path:
        return self.trip_dir(trip_id) / "chunks" / f"{validate_chunk_no(chunk_no)}.json"

    @property
    def completed_dir(self) -> Path:
        return self.root / "completed"

    def marker_path(self, seq: int) -> Path:
        return self.completed_dir / f"{seq:0{MARKER_DIGITS}d}.json"

    def day_dir(self, day: str) -> Path:
        return self.root / "days" / day

    # ---- atomic primitives ----
    def write_bytes(self, path: Path, data: bytes, *, exclusive: bool = False) -> bool:
        """Atomically place ``data`` at ``path``; with ``exclusive`` return False if it exists."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        try:
            with open(tmp, "wb") as handle:
                handle.write(data)
                if self.fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            if exclusive:
                try:
                    os.link(tmp, path)
                except FileExistsError:
                    return False
            else:
                os.replace(tmp, path)
            if self.fsync:
                fsync_path(path.parent)
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def write_json(self, path: Path, payload: dict, *, exclusive: bool = False) -> bool:
        return self.write_bytes(path, _json_bytes(payload), exclusive=exclusive)

    def remove(self, path: Path) -> None:
        """Delete ``path`` if present, durably (the directory entry is fsynced too)."""
        path.unlink(missing_ok=True)
        if self.fsync:
            fsync_path(path.parent)

    @staticmethod
    def read_json(path: Path) -> dict | None:
        try:
            return json.loads(path.read_bytes())
        except FileNotFoundError:
            return None

    @contextmanager
    def trip_lock(self, trip_id: str) -> Iterator[None]:
        """Serialise writers of one trip (threads and processes on this host)."""
        lock_path = self.trip_dir(trip_id) / ".lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # ---- reads used by the trip side ----
    def stored_chunks(self, trip_id: str) -> dict[int, dict]:
        """Sidecars of the stored chunks, by chunk number."""
        chunk_dir = self.trip_dir(trip_id) / "chunks"
        if not chunk_dir.exists():
            return {}
        found = {}
        for path in chunk_dir.glob("[1-9]*.json"):
            found[int(path.stem)] = json.loads(path.read_bytes())
        return dict(sorted(found.items()))

    def append_completion(self, payload: dict) -> int:
        """Append ``payload`` to the completion log; return its sequence number."""
        hint_path = self.completed_dir / "next"
        try:
            seq = max(1, int(hint_path.read_text()))
        except (FileNotFoundError, ValueError):
            seq = 1
        while not self.write_json(self.marker_path(seq), payload, exclusive=True):
            seq += 1
        self.write_bytes(hint_path, str(seq + 1).encode())
        return seq

    def read_completions(self, after: int, limit: int | None = None) -> list[CompletionMarker]:
        """Markers ``after+1, after+2, ...`` up to the first gap (the log's end)."""
        markers: list[CompletionMarker] = []
        seq = after + 1
        while limit is None or len(markers) < limit:
            payload = self.read_json(self.marker_path(seq))
            if payload is None:
                break
            markers.append(
                CompletionMarker(
                    seq=seq,
                    trip_id=payload["trip_id"],
                    vin=payload["vin"],
                    days=list(payload["days"]),
                    event_count=int(payload["event_count"]),
                )
            )
            seq += 1
        return markers

    def completed_trips_on_day(self, day: str) -> list[str]:
        """Completed trips with records (or their start) on ``day``, sorted."""
        folder = self.day_dir(day)
        if not folder.exists():
            return []
        return sorted(
            name
            for name in os.listdir(folder)
            if not name.startswith(".") and (self.trip_dir(name) / "completed.json").exists()
        )


def _json_bytes(payload: dict) -> bytes:
    return (json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n").encode()

