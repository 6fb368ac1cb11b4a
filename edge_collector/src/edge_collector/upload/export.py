"""Export a cut trip to a plain directory (USB stick / offline transfer).

Layout mirrors the server's landing zone and is what ``fleet-ingest-server
import-dir`` reads::

    <dest>/trips/<trip_id>/chunks/<n>.ndjson.gz
    <dest>/trips/<trip_id>/manifest.json      (written last: its presence means the export is whole)
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from fleet_protocol import TripManifest, chunk_filename, sha256_hex


def export_trip(manifest: TripManifest, chunk_dir: Path, dest: Path) -> Path:
    """Copy the chunks (verified against the manifest) and then the manifest; return the trip folder."""
    trip_dir = Path(dest) / "trips" / manifest.trip_id
    for chunk in manifest.chunks:
        body = (Path(chunk_dir) / chunk_filename(manifest.trip_id, chunk.no)).read_bytes()
        if sha256_hex(body) != chunk.sha256:
            raise ValueError(f"local chunk {chunk.no} of trip {manifest.trip_id} does not match its manifest sha256")
        _atomic_write(trip_dir / "chunks" / f"{chunk.no}.ndjson.gz", body)
    _atomic_write(trip_dir / "manifest.json", manifest.model_dump_json(indent=2).encode())
    return trip_dir


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())  # removable media: make sure the bytes are on the stick
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
