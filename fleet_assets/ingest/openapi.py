"""Hand-written OpenAPI 3.1 document of the ingest API (served at /openapi.json).

Hand-written rather than generated so the error contract (status → code) is
documented where clients read it; ``openapi.json`` next to this file is the
committed copy, kept identical by a test.
"""

from __future__ import annotations

_ERROR = {"$ref": "#/components/schemas/Error"}
_TRIP_ID = {"name": "trip_id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
_CHUNK_NO = {"name": "chunk_no", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
_AUTH = [{"bearer": []}]


def _errors(*codes: int) -> dict:
    text = {
        400: "bad id, checksum, header or JSON",
        401: "missing or unknown API key",
        403: "the device may not write this VIN (forbidden_vin) or this trip (forbidden_trip; the trip's VIN is never named)",
        404: "trip not found",
        409: "conflicts with what is stored: trip_conflict, chunk_conflict (other sha256 for this chunk number), "
        "seq_conflict (the chunk's seq range overlaps or cannot tile with a stored chunk's; DELETE the stale chunk), "
        "trip_completed (a complete trip is immutable)",
        411: "Content-Length missing",
        413: "body or decompressed body too large",
        415: "wrong Content-Type",
        431: "request headers too large (headers_too_large) or too many header fields (too_many_headers)",
        503: "chunk validator restarted (validator_unavailable), or the object store (storage_unavailable) or the "
        "state database (state_unavailable) is unreachable; nothing was stored, retry",
        422: "invalid trip, chunk line or manifest; a chunk whose own seq range can never tile (gaps inside it, "
        "chunk 1 not starting at seq 1, chunk n starting before seq n)",
    }
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes}


OPENAPI: dict = {
    "openapi": "3.1.0",
    "info": {
        "title": "Fleet trip ingest",
        "version": "1.0.0",
        "description": "Offline (store-and-forward) trip uploads from edge collectors. Chunks are gzip NDJSON; "
        "a trip is complete once its manifest matches every uploaded chunk.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "message"],
                "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
            },
            "TripCreate": {
                "type": "object",
                "required": ["vin", "trip_id", "started_at"],
                "properties": {
                    "vin": {"type": "string", "pattern": "^[A-HJ-NPR-Z0-9]{17}$"},
                    "trip_id": {"type": "string", "format": "uuid"},
                    "started_at": {"type": "string", "format": "date-time"},
                },
            },
            "ChunkInfo": {
                "type": "object",
                "required": ["no", "first_seq", "last_seq", "size_bytes", "sha256"],
                "properties": {
                    "no": {"type": "integer", "minimum": 1},
                    "first_seq": {"type": "integer", "minimum": 1},
                    "last_seq": {"type": "integer", "minimum": 1},
                    "size_bytes": {"type": "integer", "minimum": 1},
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                },
            },
            "ChunkDeleted": {
                "type": "object",
                "required": ["trip_id", "chunk_no", "deleted"],
                "properties": {
                    "trip_id": {"type": "string", "format": "uuid"},
                    "chunk_no": {"type": "integer", "minimum": 1},
                    "deleted": {"type": "boolean"},
                },
            },
            "TripStatus": {
                "type": "object",
                "required": ["trip_id", "vin", "started_at", "chunks", "complete"],
                "properties": {
                    "trip_id": {"type": "string", "format": "uuid"},
                    "vin": {"type": "string"},
                    "started_at": {"type": "string", "format": "date-time"},
                    "chunks": {"type": "array", "items": {"$ref": "#/components/schemas/ChunkInfo"}},
                    "complete": {"type": "boolean"},
                },
            },
            "Manifest": {
                "type": "object",
                "required": ["vin", "trip_id", "started_at", "event_count", "chunks"],
                "properties": {
                    "schema_version": {"type": "integer", "const": 1},
                    "vin": {"type": "string"},
                    "trip_id": {"type": "string", "format": "uuid"},
                    "started_at": {"type": "string", "format": "date-time"},
                    "ended_at": {"type": ["string", "null"], "format": "date-time"},
                    "event_count": {"type": "integer", "minimum": 0},
                    "chunks": {"type": "array", "items": {"$ref": "#/components/schemas/ChunkInfo"}},
                },
            },
        },
    },
    "paths": {
        "/v1/trips": {
            "post": {
                "summary": "Register a trip (idempotent on the client-generated trip_id)",
                "security": _AUTH,
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TripCreate"}}},
                },
                "responses": {
                    "201": {"description": "created"},
                    "200": {"description": "already registered with the same vin and started_at"},
                    **_errors(400, 401, 403, 409, 413, 415, 422, 431, 503),
                },
            }
        },
        "/v1/trips/{trip_id}": {
            "get": {
                "summary": "What the server holds for a trip (stored chunks, completion) so uploads can resume",
                "security": _AUTH,
                "parameters": [_TRIP_ID],
                "responses": {
                    "200": {
                        "description": "trip status",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TripStatus"}}},
                    },
                    **_errors(400, 401, 403, 404, 431, 503),
                },
            }
        },
        "/v1/trips/{trip_id}/chunks/{chunk_no}": {
            "put": {
                "summary": "Upload one gzip NDJSON chunk (idempotent: identical re-upload is a no-op)",
                "security": _AUTH,
                "parameters": [
                    _TRIP_ID,
                    _CHUNK_NO,
                    {"name": "Idempotency-Key", "in": "header", "required": True, "schema": {"type": "string"},
                     "description": "{trip_id}:{chunk_no}"},
                    {"name": "X-Chunk-SHA256", "in": "header", "required": True,
                     "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/x-ndjson+gzip": {"schema": {"type": "string", "format": "binary"}}},
                },
                "responses": {
                    "201": {"description": "stored"},
                    "200": {"description": "identical chunk already stored"},
                    **_errors(400, 401, 403, 404, 409, 411, 413, 415, 422, 431, 503),
                },
            },
            "delete": {
                "summary": "Recovery: remove an uploaded chunk of a trip that is not complete yet",
                "description": "For a device whose stored chunks no longer match its current cut of the trip (a stale "
                "or stray chunk, a 409 chunk_conflict or seq_conflict on PUT, or a manifest refused because of "
                "a chunk): DELETE the chunk, then PUT the right one and complete. Idempotent: a chunk that is not "
                "stored answers deleted=false. A completed trip is immutable (409 trip_completed).",
                "security": _AUTH,
                "parameters": [_TRIP_ID, _CHUNK_NO],
                "responses": {
                    "200": {
                        "description": "deleted (or was not stored)",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ChunkDeleted"}}},
                    },
                    **_errors(400, 401, 403, 404, 409, 431, 503),
                },
            },
        },
        "/v1/trips/{trip_id}/complete": {
            "post": {
                "summary": "Complete a trip with its manifest (idempotent)",
                "security": _AUTH,
                "parameters": [_TRIP_ID],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Manifest"}}},
                },
                "responses": {
                    "200": {"description": "complete"},
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422, 431, 503),
                },
            }
        },
    },
}
