"""Gzip NDJSON chunks: encode deterministically, decode defensively.

Encoding is byte-for-byte deterministic (gzip mtime 0, sorted keys), so a
re-cut chunk has the same sha256 and a re-upload is recognisably identical.
Decoding streams through ``zlib`` with a hard output limit, so a gzip bomb is
rejected after at most ``max_decompressed_bytes`` of work, and every line is
validated before anything is returned: a chunk is accepted whole or not at all.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import zlib
from collections.abc import Iterable

from pydantic import ValidationError

from fleet_protocol.events import DtcRecord, EdgeEvent, parse_record
from fleet_protocol.ids import validate_chunk_no, validate_trip_id

CHUNK_CONTENT_TYPE = "application/x-ndjson+gzip"
DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024


class ChunkError(ValueError):
    """A chunk body that cannot be accepted; the message says why."""


def chunk_filename(trip_id: str, chunk_no: int) -> str:
    """``{trip_id}-{chunk_no}.ndjson.gz`` with both parts validated."""
    return f"{validate_trip_id(trip_id)}-{validate_chunk_no(chunk_no)}.ndjson.gz"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_chunk(records: Iterable[EdgeEvent | DtcRecord | dict]) -> bytes:
    """Serialise records as gzip NDJSON, deterministically."""
    lines = []
    for record in records:
        data = record.to_json_dict() if hasattr(record, "to_json_dict") else record
        lines.append(json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False))
    raw = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, compresslevel=6) as handle:
        handle.write(raw)
    return buffer.getvalue()


def gunzip_limited(data: bytes, max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES) -> bytes:
    """Decompress a (possibly multi-member) gzip body, refusing more than the limit."""
    out = bytearray()
    remaining = memoryview(data)
    if not data:
        raise ChunkError("chunk body is empty")
    while remaining:
        decomp = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            chunk = decomp.decompress(remaining, max_decompressed_bytes + 1 - len(out))
        except zlib.error as exc:
            raise ChunkError(f"chunk is not valid gzip: {exc}") from None
        out += chunk
        if len(out) > max_decompressed_bytes or decomp.unconsumed_tail:
            raise ChunkError(
                f"chunk decompresses to more than {max_decompressed_bytes} bytes (possible gzip bomb)"
            )
        if not decomp.eof:
            raise ChunkError("chunk is truncated: gzip stream ended before its trailer")
        remaining = memoryview(decomp.unused_data)
    return bytes(out)


def decode_chunk(
    data: bytes,
    *,
    trip_id: str | None = None,
    vin: str | None = None,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
) -> list[EdgeEvent | DtcRecord]:
    """Decompress and validate every line; raise ChunkError naming the first bad line."""
    text = gunzip_limited(data, max_decompressed_bytes)
    records: list[EdgeEvent | DtcRecord] = []
    for line_no, line in enumerate(text.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            record = parse_record(line)
        except (ValidationError, UnicodeDecodeError, ValueError) as exc:
            raise ChunkError(f"line {line_no}: invalid event: {_first_error(exc)}") from None
        if trip_id is not None and record.trip_id != trip_id:
            raise ChunkError(f"line {line_no}: trip_id {record.trip_id} does not match {trip_id}")
        if vin is not None and record.vin != vin:
            raise ChunkError(f"line {line_no}: vin {record.vin} does not match the trip's vin {vin}")
        records.append(record)
    if not records:
        raise ChunkError("chunk contains no records")
    seqs = [record.seq for record in records]
    if seqs != sorted(seqs) or len(set(seqs)) != len(seqs):
        raise ChunkError("chunk records must have strictly increasing seq")
    return records


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = list(err.get("loc", ()))
        if loc and loc[0] in ("event", "dtc"):  # the discriminated-union tag, not a field
            loc = loc[1:]
        where = ".".join(str(part) for part in loc)
        return f"{where}: {err.get('msg')}" if where else str(err.get("msg"))
    return str(exc).splitlines()[0]
