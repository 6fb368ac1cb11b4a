"""The rules of the offline-upload API, independent of HTTP.

Both the ASGI app and ``import-dir`` call these functions, so a trip carried
in on a USB stick passes exactly the checks an online upload does. Every check
runs before the first byte is written; a rejected request leaves the landing
zone as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timezone

from fleet_protocol import (
    ChunkError,
    InvalidIdError,
    TripManifest,
    sha256_hex,
    validate_chunk_no,
    validate_trip_id,
    validate_vin,
)
from pydantic import ValidationError

from fleet_assets.ingest.errors import IngestError
from fleet_assets.ingest.keys import Device
from fleet_assets.ingest.landing import LandingZone
from fleet_assets.ingest.validation import summarise_chunk

DEFAULT_MAX_CHUNK_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024


def check_trip_id(trip_id: str) -> str:
    try:
        return validate_trip_id(trip_id)
    except InvalidIdError as exc:
        raise IngestError(400, "invalid_id", str(exc)) from None


def check_chunk_no(chunk_no: str | int) -> int:
    try:
        return validate_chunk_no(chunk_no)
    except InvalidIdError as exc:
        raise IngestError(400, "invalid_id", str(exc)) from None


def _parse_started_at(value) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise IngestError(422, "invalid_trip", f"started_at is not an ISO-8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise IngestError(422, "invalid_trip", "started_at must carry a timezone (UTC 'Z')")
    return parsed.astimezone(timezone.utc)


def _iso(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def load_trip(zone: LandingZone, trip_id: str, device: Device | None) -> dict:
    """trip.json of an existing trip the device may write, else 404/403."""
    trip = zone.read_json(zone.trip_key(check_trip_id(trip_id), "trip.json"))
    if trip is None:
        raise IngestError(404, "trip_not_found", f"trip {trip_id} does not exist; POST /v1/trips first")
    if device is not None:
        device.require_trip(trip)
    return trip


def create_trip(zone: LandingZone, body: dict, device: Device | None) -> tuple[int, dict]:
    """POST /v1/trips: 201 when created, 200 when the same trip already exists."""
    if not isinstance(body, dict):
        raise IngestError(422, "invalid_trip", "body must be a JSON object with vin, trip_id and started_at")
    missing = [name for name in ("vin", "trip_id", "started_at") if name not in body]
    if missing:
        raise IngestError(422, "invalid_trip", f"missing field(s): {', '.join(missing)}")
    trip_id = check_trip_id(body["trip_id"])
    try:
        vin = validate_vin(body["vin"])
    except InvalidIdError as exc:
        raise IngestError(422, "invalid_trip", str(exc)) from None
    if device is not None:
        device.require_vin(vin)
    started_at = _iso(_parse_started_at(body["started_at"]))
    record = {"trip_id": trip_id, "vin": vin, "started_at": started_at, "device": device.name if device else None}
    key = zone.trip_key(trip_id, "trip.json")
    if zone.write_json(key, record, exclusive=True):
        return 201, {"trip_id": trip_id, "created": True}
    existing = zone.read_json(key)
    if existing["vin"] != vin or existing["started_at"] != started_at:
        if device is not None:
            device.require_trip(existing)
        raise IngestError(409, "trip_conflict", f"trip {trip_id} already exists with a different vin or started_at")
    return 200, {"trip_id": trip_id, "created": False}


def trip_status(zone: LandingZone, trip_id: str, device: Device | None) -> dict:
    """GET /v1/trips/{id}: what the server holds, so an uploader can resume."""
    trip = load_trip(zone, trip_id, device)
    chunks = zone.stored_chunks(trip_id)
    completed = zone.read_json(zone.trip_key(trip_id, "completed.json"))
    return {
        "trip_id": trip["trip_id"],
        "vin": trip["vin"],
        "started_at": trip["started_at"],
        "chunks": [
            {key: info[key] for key in ("no", "sha256", "size_bytes", "first_seq", "last_seq")}
            for info in chunks.values()
        ],
        "complete": completed is not None and "marker" in completed,  # logged; else `complete` again finishes it
    }


def put_chunk(
    zone: LandingZone,
    trip_id: str,
    chunk_no: str | int,
    body: bytes,
    declared_sha256: str | None,
    device: Device | None,
    *,
    max_decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES,
    validate: Callable[[bytes, str, str, int], dict] = summarise_chunk,
) -> tuple[int, dict]:
    """PUT a chunk: verify checksum and every line, then store body, then its sidecar (the commit point).

    ``validate`` is ``summarise_chunk`` or something that runs it elsewhere (the server's ``ValidatorPool``).
    """
    trip_id = check_trip_id(trip_id)
    number = check_chunk_no(chunk_no)
    trip = load_trip(zone, trip_id, device)
    if not declared_sha256:
        raise IngestError(400, "missing_checksum", "X-Chunk-SHA256 header is required")
    actual = sha256_hex(body)
    if declared_sha256.strip().lower() != actual:
        raise IngestError(
            400, "checksum_mismatch", f"X-Chunk-SHA256 {declared_sha256!r} does not match the body (sha256 {actual})"
        )
    sidecar_key = zone.sidecar_key(trip_id, number)
    existing = zone.read_json(sidecar_key)
    if existing is not None:
        return _same_chunk(existing, actual, trip_id, number)
    try:
        summary = validate(body, trip_id, trip["vin"], max_decompressed_bytes)
    except ChunkError as exc:
        raise IngestError(422, "invalid_chunk", f"chunk {number}: {exc}") from None
    sidecar = {"no": number, "sha256": actual, "size_bytes": len(body), **summary}
    with zone.trip_lock(trip_id):
        objects = zone.trip_objects(trip_id)  # one listing answers "stored meanwhile?", "complete?" and the seq checks
        stored = zone.stored_chunks(trip_id, objects, around=number)
        if number in stored:
            return _same_chunk(stored[number], actual, trip_id, number)
        if "completed.json" in objects:
            raise IngestError(409, "trip_completed", f"trip {trip_id} is complete; chunk {number} is not part of it")
        _check_against_stored(sidecar, stored)  # first: names the chunk it collides with
        _check_own_seq_range(sidecar)
        existing = zone.store_chunk(trip_id, number, body, sidecar)
        if existing is not None:  # stored meanwhile by a writer that did not hold our lock (cannot happen
            return _same_chunk(existing, actual, trip_id, number)  # with one; answered like a re-send)
    return 201, {"trip_id": trip_id, "chunk_no": number, "sha256": actual, "stored": True}


def _seqs(info: dict) -> str:
    return f"seq {info['first_seq']}..{info['last_seq']}"


def _check_own_seq_range(new: dict) -> None:
    """Refuse a chunk no manifest could ever accept, whatever else is stored.

    A manifest numbers chunks 1..n and tiles seq 1..event_count with them, and
    completion requires each chunk to hold exactly last_seq - first_seq + 1
    records (``_verify_against_chunks``). Accepting such a chunk would leave the
    trip uncompletable.
    """
    number, first = new["no"], new["first_seq"]
    if new["records"] != new["last_seq"] - first + 1:
        raise IngestError(
            422, "invalid_chunk",
            f"chunk {number}: {_seqs(new)} has gaps ({new['records']} records); a chunk's seqs must be consecutive",
        )
    if number == 1 and first != 1:
        raise IngestError(422, "invalid_chunk", f"chunk 1 must start at seq 1, starts at {first}")
    if first < number:
        raise IngestError(
            422, "invalid_chunk",
            f"chunk {number} starts at seq {first}, but chunks 1..{number - 1} hold at least {number - 1} records "
            f"before it",
        )


def _check_against_stored(new: dict, stored: dict[int, dict]) -> None:
    """Refuse a chunk whose seq range cannot tile with the chunks already stored (409).

    Only the nearest stored chunk on each side matters: the stored chunks
    already satisfy these rules among themselves. The fix is always on the
    device's side (it knows which cut is current), hence the DELETE hint.
    """
    number = new["no"]
    hint = "; DELETE the stale chunk (trip not complete yet) and upload the current one"
    below = [no for no in stored if no < number]
    above = [no for no in stored if no > number]
    for no in ([max(below)] if below else []) + ([min(above)] if above else []):
        other = stored[no]
        lower, upper = (other, new) if no < number else (new, other)
        room = upper["first_seq"] - lower["last_seq"] - 1  # seqs strictly between the two
        need = abs(number - no) - 1  # chunks strictly between the two, one record each at least
        where = f"chunk {number} ({_seqs(new)})"
        if room < 0:
            message = f"{where} overlaps stored chunk {no} ({_seqs(other)})"
        elif need == 0 and room > 0 and no < number:
            message = f"{where} must start at seq {other['last_seq'] + 1}, right after stored chunk {no} ({_seqs(other)})"
        elif need == 0 and room > 0:
            message = f"{where} must end at seq {other['first_seq'] - 1}, right before stored chunk {no} ({_seqs(other)})"
        elif room < need:
            between = f"{min(no, number) + 1}..{max(no, number) - 1}"
            message = (f"{where}: chunks {between} need at least {need} seq(s) between stored chunk {no} "
                       f"({_seqs(other)}) and it")
        else:
            continue
        raise IngestError(409, "seq_conflict", message + hint)


def delete_chunk(zone: LandingZone, trip_id: str, chunk_no: str | int, device: Device | None) -> tuple[int, dict]:
    """DELETE an uploaded chunk of a trip that is not complete yet (recovery from a stale cut).

    Idempotent: deleting a chunk that is not stored answers ``deleted: false``.
    A completed trip is immutable (its chunks are what the sensor imported).
    """
    trip_id = check_trip_id(trip_id)
    number = check_chunk_no(chunk_no)
    load_trip(zone, trip_id, device)
    with zone.trip_lock(trip_id):
        if zone.is_complete(trip_id):
            raise IngestError(409, "trip_completed", f"trip {trip_id} is complete; its chunks can no longer be deleted")
        deleted = zone.remove_chunk(trip_id, number)
    return 200, {"trip_id": trip_id, "chunk_no": number, "deleted": deleted}


def _same_chunk(existing: dict, actual: str, trip_id: str, number: int) -> tuple[int, dict]:
    if existing["sha256"] != actual:
        raise IngestError(
            409, "chunk_conflict",
            f"chunk {number} of trip {trip_id} is already stored with a different sha256; to replace it while the "
            "trip is not complete, DELETE it first",
        )
    return 200, {"trip_id": trip_id, "chunk_no": number, "sha256": actual, "stored": False}


def complete_trip(zone: LandingZone, trip_id: str, body: dict, device: Device | None) -> tuple[int, dict]:
    """POST complete: accept the manifest only if it matches every stored chunk."""
    trip_id = check_trip_id(trip_id)
    trip = load_trip(zone, trip_id, device)
    manifest = _parse_manifest(body)
    canonical = json.loads(manifest.model_dump_json())
    if manifest.trip_id != trip_id:
        raise IngestError(422, "manifest_mismatch", f"manifest trip_id {manifest.trip_id} is not {trip_id}")
    if manifest.vin != trip["vin"]:
        raise IngestError(422, "manifest_mismatch", f"manifest vin {manifest.vin} is not the trip's vin {trip['vin']}")
    if _iso(manifest.started_at) != trip["started_at"]:
        raise IngestError(
            422, "manifest_mismatch", f"manifest started_at {_iso(manifest.started_at)} is not {trip['started_at']}"
        )
    with zone.trip_lock(trip_id):
        done = zone.read_json(zone.trip_key(trip_id, "completed.json"))
        if done is not None:
            if zone.read_json(zone.trip_key(trip_id, "manifest.json")) != canonical:
                raise IngestError(409, "trip_completed", f"trip {trip_id} was completed with a different manifest")
            if "marker" in done:
                return 200, {"trip_id": trip_id, "complete": True, "marker": done["marker"], "created": False}
            days = done["days"]  # a completion cut short before its log entry: finish it now
        else:
            stored = zone.stored_chunks(trip_id)
            _verify_against_chunks(manifest, stored)
            days = sorted({day for info in stored.values() for day in info["days"]}
                          | {manifest.started_at.date().isoformat()})
            # Order: manifest, day index and completed.json make the trip readable and immutable; only then
            # the log entry (what the sensor acts on), so nothing in the log is ever unreadable. A crash before
            # the entry leaves a complete trip without one, which the device's retry of `complete` logs.
            zone.write_json(zone.trip_key(trip_id, "manifest.json"), canonical)
            for day in days:
                zone.add_to_day_index(day, trip_id)
            zone.write_json(zone.trip_key(trip_id, "completed.json"), {"days": days})
        marker = zone.append_completion(
            {"trip_id": trip_id, "vin": trip["vin"], "days": days, "event_count": manifest.event_count}
        )
        zone.write_json(zone.trip_key(trip_id, "completed.json"), {"marker": marker, "days": days})
    return 200, {"trip_id": trip_id, "complete": True, "marker": marker, "created": True}


def _parse_manifest(body) -> TripManifest:
    try:
        return TripManifest.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise IngestError(422, "invalid_manifest", f"{where + ': ' if where else ''}{err.get('msg')}") from None


def _verify_against_chunks(manifest: TripManifest, stored: dict[int, dict]) -> None:
    listed = {chunk.no for chunk in manifest.chunks}
    missing = sorted(listed - stored.keys())
    if missing:
        raise IngestError(422, "manifest_mismatch", f"chunk(s) {missing} listed in the manifest were never uploaded")
    extra = sorted(stored.keys() - listed)
    if extra:
        raise IngestError(422, "manifest_mismatch", f"uploaded chunk(s) {extra} are not listed in the manifest")
    for chunk in manifest.chunks:
        have = stored[chunk.no]
        for field in ("sha256", "size_bytes", "first_seq", "last_seq"):
            if getattr(chunk, field) != have[field]:
                raise IngestError(
                    422,
                    "manifest_mismatch",
                    f"chunk {chunk.no}: manifest {field} {getattr(chunk, field)!r} != uploaded {have[field]!r}",
                )
        if have["records"] != chunk.last_seq - chunk.first_seq + 1:
            raise IngestError(
                422,
                "manifest_mismatch",
                f"chunk {chunk.no}: holds {have['records']} records but seq {chunk.first_seq}..{chunk.last_seq}",
            )
