"""The trip landing zone on the object store: layout, create-only writes, and the shared state.

Layout under ``landing/`` of the store (``DataLayout.store``: the data dir, or ``FLEET_STORAGE_URL``)::

    trips/<trip_id>/trip.json              vin, started_at, creating device (create-only)
    trips/<trip_id>/chunks/<n>.ndjson.gz   accepted chunk body, byte-exact
    trips/<trip_id>/chunks/<n>.json        sidecar (sha256, size, seq range, days), create-only and
                                           written after the body: its presence makes chunk n "stored"
    trips/<trip_id>/manifest.json          the accepted manifest
    trips/<trip_id>/completed.json         written after the completion log entry: the trip is complete
    days/<YYYY-MM-DD>/<trip_id>            empty index object: the trip has records that day

Every object is written whole (``ObjectStore.write``/``create``: temp+rename or link on disk, one PUT or
a conditional PUT on S3), so a reader never sees half an object. A writer killed mid-chunk leaves at
most a body without sidecar, which readers ignore and the next upload of that chunk replaces. Nothing
relies on rename or on listing order.

The completion log and the per-trip writer lock are the ``state`` (:mod:`fleet_assets.ingest.state`):
files and ``flock`` embedded, Postgres when ``FLEET_STATE_URL`` is set (several replicas).
"""

from __future__ import annotations

import json
from pathlib import Path

from fleet_protocol import sha256_hex, validate_chunk_no, validate_trip_id

from fleet_assets.ingest.state import CompletionMarker, FileState, IngestState, json_bytes
from fleet_assets.storage.layout import LANDING_PREFIX, DataLayout
from fleet_assets.storage.objects import LocalStore, ObjectStore

__all__ = ["CompletionMarker", "LandingZone"]


class LandingZone:
    """Keys and primitive whole-object operations; no business rules (see ``service``)."""

    def __init__(self, root: Path | str | None = None, *, fsync: bool = True, store: ObjectStore | None = None,
                 prefix: str = "", state: IngestState | None = None, lock_dir: Path | str | None = None):
        """``LandingZone(path)``: a landing directory on local disk with embedded state (today's layout).

        Otherwise ``store`` + ``prefix`` (keys below it) and a ``state``; without one, the embedded state
        keeps its log in the store and its locks under ``lock_dir`` (this host only).
        """
        if store is None:
            store, lock_dir = LocalStore(Path(root), fsync=fsync), Path(root)
        self.store, self.prefix = store, prefix.strip("/")
        if state is None and lock_dir is None:
            raise ValueError("LandingZone on a store needs a state or a lock_dir for the embedded state")
        self.state = state or FileState(store, self.prefix, Path(lock_dir))

    @classmethod
    def for_layout(cls, layout: DataLayout, *, fsync: bool = True, state: IngestState | None = None) -> "LandingZone":
        """The platform's landing zone: ``landing/`` of the layout's store, Postgres state if it names one."""
        store = layout.store
        if fsync is False and isinstance(store, LocalStore):
            store = LocalStore(store.root, fsync=False)
        if state is None and layout.state_url:
            from fleet_assets.ingest.state import PostgresState

            state = PostgresState(layout.state_url)
        return cls(store=store, prefix=LANDING_PREFIX, state=state, lock_dir=layout.landing_dir)

    def close(self) -> None:
        """Release the state's connections (Postgres); a no-op embedded."""
        close = getattr(self.state, "close", None)
        if close is not None:
            close()

    # ---- keys (ids are validated before they touch a key) ----
    def key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def trip_key(self, trip_id: str, name: str) -> str:
        return self.key("trips", validate_trip_id(trip_id), name)

    def chunk_key(self, trip_id: str, chunk_no: int) -> str:
        return self.trip_key(trip_id, f"chunks/{validate_chunk_no(chunk_no)}.ndjson.gz")

    def sidecar_key(self, trip_id: str, chunk_no: int) -> str:
        return self.trip_key(trip_id, f"chunks/{validate_chunk_no(chunk_no)}.json")

    @property
    def completed_dir(self) -> Path:
        """The embedded completion log's folder (local stores only; benchmarks and tests look at it)."""
        return self.store.path(self.key("completed"))

    # ---- whole-object primitives ----
    def read_json(self, key: str) -> dict | None:
        raw = self.store.read(key)
        return None if raw is None else json.loads(raw)

    def write_json(self, key: str, payload: dict, *, exclusive: bool = False) -> bool:
        """Place ``payload`` at ``key``; with ``exclusive`` (create-only) return False if it exists."""
        if exclusive:
            return self.store.create(key, json_bytes(payload))
        self.store.write(key, json_bytes(payload))
        return True

    def trip_lock(self, trip_id: str):
        """One writer per trip: this host's ``flock`` embedded, a Postgres advisory lock across replicas."""
        return self.state.trip_lock(validate_trip_id(trip_id))

    def is_complete(self, trip_id: str) -> bool:
        return self.store.exists(self.trip_key(trip_id, "completed.json"))

    def store_chunk(self, trip_id: str, chunk_no: int, body: bytes, sidecar: dict) -> dict | None:
        """Store body then sidecar (the commit point); call under ``trip_lock``.

        Returns None when stored, or the sidecar that was already there. A body without sidecar is the
        debris of a writer that died mid-chunk: it is replaced (create-only, so a late write of the dead
        writer can never overwrite a body whose sidecar exists).
        """
        body_key = self.chunk_key(trip_id, chunk_no)
        for _ in range(5):
            if self.store.create(body_key, body):
                break
            current = self.store.read(body_key)
            if current is not None and sha256_hex(current) == sidecar["sha256"]:
                break
            self.store.delete(body_key)
        else:
            raise RuntimeError(f"chunk {chunk_no} of trip {trip_id}: body kept changing under the trip lock")
        if self.write_json(self.sidecar_key(trip_id, chunk_no), sidecar, exclusive=True):
            return None
        return self.read_json(self.sidecar_key(trip_id, chunk_no))

    def remove_chunk(self, trip_id: str, chunk_no: int) -> bool:
        """Delete a chunk, sidecar first (it is what makes the chunk "stored"); True if it was stored."""
        sidecar = self.sidecar_key(trip_id, chunk_no)
        stored = self.store.exists(sidecar)
        self.store.delete(sidecar)
        self.store.delete(self.chunk_key(trip_id, chunk_no))
        return stored

    def read_chunk(self, trip_id: str, chunk_no: int, sha256: str) -> bytes:
        """A stored chunk's body, checked against its recorded sha256 (a reader never trusts debris)."""
        body = self.store.read(self.chunk_key(trip_id, chunk_no))
        if body is None or sha256_hex(body) != sha256:
            raise RuntimeError(f"landing zone: chunk {chunk_no} of trip {trip_id} is missing or does not match "
                               f"its sha256 {sha256}")
        return body

    # ---- reads used by the trip side ----
    def trip_objects(self, trip_id: str) -> set[str]:
        """Names of a trip's objects relative to its folder (``trip.json``, ``chunks/1.json``...): one listing."""
        base = self.key("trips", validate_trip_id(trip_id))
        return {key[len(base) + 1:] for key in self.store.list(base)}

    def stored_chunks(self, trip_id: str, objects: set[str] | None = None, *, around: int | None = None
                      ) -> dict[int, dict]:
        """Sidecars of the stored chunks, by chunk number.

        ``objects``: a ``trip_objects`` listing to reuse; ``around=n``: only chunk n and its nearest stored
        neighbours below and above (all a new chunk's seq checks need; saves a GET per other chunk on S3).
        """
        numbers = set()
        for name in self.trip_objects(trip_id) if objects is None else objects:
            folder, _, leaf = name.partition("/")
            stem, _, ext = leaf.partition(".")
            if folder == "chunks" and ext == "json" and stem.isdigit() and not stem.startswith("0"):
                numbers.add(int(stem))
        if around is not None:
            below, above = [n for n in numbers if n < around], [n for n in numbers if n > around]
            numbers &= {around, max(below, default=around), min(above, default=around)}
        found = {}
        for number in sorted(numbers):
            payload = self.read_json(self.sidecar_key(trip_id, number))
            if payload is not None:
                found[number] = payload
        return found

    def add_to_day_index(self, day: str, trip_id: str) -> None:
        self.store.write(self.key("days", day, validate_trip_id(trip_id)), b"")

    def append_completion(self, payload: dict) -> int:
        """Append ``payload`` to the completion log; return its sequence number."""
        return self.state.append_completion(payload)

    def read_completions(self, after: int, limit: int | None = None) -> list[CompletionMarker]:
        """Entries ``after+1, after+2, ...`` (the log is gapless and ordered)."""
        return self.state.read_completions(after, limit)

    def completed_trips_on_day(self, day: str) -> list[str]:
        """Completed trips with records (or their start) on ``day``, sorted."""
        names = {key.rsplit("/", 1)[-1] for key in self.store.list(self.key("days", day))}
        return sorted(name for name in names if self.is_complete(name))
