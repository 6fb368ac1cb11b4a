"""Wire contract between the edge collector and the platform.

Kept in its own tiny, permissively licensed distribution (pydantic only) so the
GPL edge collector and the MIT platform share one definition of the event
schema, the trip manifest and the chunk format without either importing the
other.
"""

from fleet_protocol.chunks import (
    CHUNK_CONTENT_TYPE,
    ChunkError,
    chunk_filename,
    decode_chunk,
    encode_chunk,
    sha256_hex,
)
from fleet_protocol.events import SCHEMA_VERSION, DtcRecord, EdgeEvent, EdgeRecord, parse_record
from fleet_protocol.ids import InvalidIdError, validate_chunk_no, validate_trip_id, validate_vin
from fleet_protocol.manifest import ChunkInfo, TripManifest

__all__ = [
    "CHUNK_CONTENT_TYPE",
    "SCHEMA_VERSION",
    "ChunkError",
    "ChunkInfo",
    "DtcRecord",
    "EdgeEvent",
    "EdgeRecord",
    "InvalidIdError",
    "TripManifest",
    "chunk_filename",
    "decode_chunk",
    "encode_chunk",
    "parse_record",
    "sha256_hex",
    "validate_chunk_no",
    "validate_trip_id",
    "validate_vin",
]
