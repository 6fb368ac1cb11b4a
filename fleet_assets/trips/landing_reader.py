"""Read completed trips from the landing zone into Arrow tables (the only I/O the assets need).

The day index (``landing/days/<day>/``) names the completed trips touching a
day, so a partition reads only its own trips, never the whole zone. It reads
through the object store (local disk or S3), each chunk checked against the
manifest's sha256.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
from fleet_protocol import DtcRecord, decode_chunk

from fleet_assets.ingest.landing import LandingZone
from fleet_assets.trips.edge_schemas import EDGE_DTCS_SCHEMA, RAW_EVENT_FIELDS, RAW_EVENTS_SCHEMA, TRIPS_SCHEMA


@dataclass(frozen=True)
class TripBatch:
    trips: pa.Table   # TRIPS_SCHEMA
    events: pa.Table  # RAW_EVENT_FIELDS (no clock_skew yet)
    dtcs: pa.Table    # EDGE_DTCS_SCHEMA


def load_trips_on_day(zone: LandingZone, day: str) -> TripBatch:
    return load_trips(zone, zone.completed_trips_on_day(day))


def load_trips(zone: LandingZone, trip_ids: list[str]) -> TripBatch:
    trips, events, dtcs = [], [], []
    for trip_id in trip_ids:
        manifest = zone.read_json(zone.trip_key(trip_id, "manifest.json"))
        trips.append({
            "trip_id": trip_id, "vin": manifest["vin"],
            "started_at": _ts(manifest["started_at"]),
            "ended_at": _ts(manifest["ended_at"]) if manifest.get("ended_at") else None,
        })
        for chunk in manifest["chunks"]:
            body = zone.read_chunk(trip_id, chunk["no"], chunk["sha256"])
            for record in decode_chunk(body, trip_id=trip_id, vin=manifest["vin"]):
                if isinstance(record, DtcRecord):
                    dtcs.append(record.model_dump(include=set(EDGE_DTCS_SCHEMA.names)))
                else:
                    events.append(record.model_dump(include=set(RAW_EVENT_FIELDS)))
    return TripBatch(
        trips=pa.Table.from_pylist(trips, schema=TRIPS_SCHEMA),
        events=pa.Table.from_pylist(events, schema=RAW_EVENTS_SCHEMA),
        dtcs=pa.Table.from_pylist(dtcs, schema=EDGE_DTCS_SCHEMA),
    )


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
