"""Cut a buffered trip into gzip NDJSON chunks plus its seed-004 manifest.

Deterministic by construction (records ordered by seq, ``encode_chunk`` is
byte-stable, the manifest is rendered from the same data), so re-cutting an
unchanged trip yields byte-identical files and the same sha256 — which is what
lets an interrupted upload resume. Every file is written temp+fsync+rename and
the manifest last, so a manifest on disk always describes complete chunks.
"""

from __future__ import annotations

import re
from pathlib import Path

from fleet_protocol import ChunkInfo, TripManifest, chunk_filename, encode_chunk, sha256_hex

from edge_collector.buffer import EventBuffer, EventBufferError
from edge_collector.fsutil import atomic_write_bytes

DEFAULT_MAX_RECORDS_PER_CHUNK = 900


class ChunkingError(EventBufferError):
    """The trip cannot be cut (e.g. its seq range has a hole)."""


def manifest_filename(trip_id: str) -> str:
    return f"{trip_id}.manifest.json"


def cut_trip(
    buffer: EventBuffer, trip_id: str, out_dir: Path, *, max_records_per_chunk: int = DEFAULT_MAX_RECORDS_PER_CHUNK
) -> TripManifest:
    """Write ``{trip_id}-{n}.ndjson.gz`` chunks and ``{trip_id}.manifest.json`` into ``out_dir``."""
    if not isinstance(max_records_per_chunk, int) or max_records_per_chunk < 1:
        raise ValueError(f"max_records_per_chunk must be a positive integer, got {max_records_per_chunk!r}")
    trip = buffer.trip(trip_id)
    out_dir = Path(out_dir)
    chunks: list[ChunkInfo] = []
    batch: list[dict] = []
    expected = 1
    for record in buffer.iter_records(trip_id):
        if record["seq"] != expected:
            raise ChunkingError(
                f"trip {trip_id}: seq {expected} is missing (next stored seq is {record['seq']}); "
                "the manifest requires a gapless seq range"
            )
        expected += 1
        batch.append(record)
        if len(batch) == max_records_per_chunk:
            chunks.append(_write_chunk(out_dir, trip_id, len(chunks) + 1, batch))
            batch = []
    if batch:
        chunks.append(_write_chunk(out_dir, trip_id, len(chunks) + 1, batch))
    manifest = TripManifest(
        schema_version=1,
        vin=trip["vin"],
        trip_id=trip_id,
        started_at=trip["started_at"],
        ended_at=trip["ended_at"],
        event_count=expected - 1,
        chunks=chunks,
    )
    _remove_stale_chunks(out_dir, trip_id, len(chunks))
    _write_if_changed(out_dir / manifest_filename(trip_id), (manifest.model_dump_json(indent=2) + "\n").encode())
    buffer.record_chunks(trip_id, chunks)
    return manifest


def _write_chunk(out_dir: Path, trip_id: str, no: int, records: list[dict]) -> ChunkInfo:
    body = encode_chunk(records)
    _write_if_changed(out_dir / chunk_filename(trip_id, no), body)
    return ChunkInfo(no=no, first_seq=records[0]["seq"], last_seq=records[-1]["seq"],
                     size_bytes=len(body), sha256=sha256_hex(body))


def _write_if_changed(path: Path, data: bytes) -> None:
    # Skipping identical rewrites spares the SD card on repeated upload attempts.
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    atomic_write_bytes(path, data)


def _remove_stale_chunks(out_dir: Path, trip_id: str, count: int) -> None:
    # A previous cut with a smaller chunk size may have left higher-numbered chunks behind.
    pattern = re.compile(re.escape(trip_id) + r"-(\d+)\.ndjson\.gz$")
    for path in out_dir.glob(f"{trip_id}-*.ndjson.gz"):
        match = pattern.match(path.name)
        if match and int(match.group(1)) > count:
            path.unlink(missing_ok=True)
