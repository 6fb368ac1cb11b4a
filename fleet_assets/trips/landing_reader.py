"""Read completed trips from the landing zone into Arrow tables (the only I/O the assets need).

The day index (``landing/days/<day>/``) names the completed trips touching a
day, so a partition reads only its own trips, never the whole zone. It reads
through the object store (local disk or S3), each chunk checked against the
manifest's sha256.

A day of any size is read in bounded groups (:func:`trip_groups_on_day`):
the manifests alone (small JSON) say how many records each trip holds, so the
groups are planned before any chunk is read, and all trips of one vehicle
share a group. That makes every group self-contained for the trip transforms
(per trip) AND for everything keyed by vehicle downstream (``normalized_edge``
checks (VIN, timestamp) uniqueness shard by shard; the analytics upload
dedups per vehicle), so a group is a shard of the day's partitions.
"""

from __future__ import annotations

from collections.abc import Iterator
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


# Records per group: ~0.2-0.3 GB of Arrow and pandas working set in the transforms, whatever the day's size.
GROUP_RECORDS = 200_000


@dataclass(frozen=True)
class TripGroups:
    """The day's trips planned into groups (shards); ``batches()`` reads them one group at a time."""

    zone: LandingZone
    groups: list[list[tuple[str, dict]]]  # per group: (trip_id, manifest), vehicles never split

    def __len__(self) -> int:
        return len(self.groups)

    @property
    def trip_count(self) -> int:
        return sum(len(group) for group in self.groups)

    def batches(self) -> Iterator[TripBatch]:
        for group in self.groups:
            yield _load(self.zone, group)


def load_trips_on_day(zone: LandingZone, day: str) -> TripBatch:
    """The whole day at once (tests and small tools; the assets read :func:`trip_groups_on_day`)."""
    return load_trips(zone, zone.completed_trips_on_day(day))


def trip_groups_on_day(zone: LandingZone, day: str, max_records: int | None = None) -> TripGroups:
    """Plan the day's completed trips into groups of about ``max_records`` records, whole vehicles each.

    Trips are ordered by (VIN, trip_id) and a group is closed at a vehicle boundary once it holds
    ``max_records``; so a group is at most ``max_records`` plus one vehicle's trips. Only manifests are
    read here.
    """
    max_records = GROUP_RECORDS if max_records is None else max_records
    refs = sorted(((m["vin"], trip_id, m) for trip_id in zone.completed_trips_on_day(day)
                   for m in [_manifest(zone, trip_id)]), key=lambda ref: ref[:2])
    groups: list[list[tuple[str, dict]]] = []
    size, last_vin = 0, None
    for vin, trip_id, manifest in refs:
        if not groups or (vin != last_vin and size >= max_records):
            groups.append([])
            size = 0
        groups[-1].append((trip_id, manifest))
        size += sum(c["last_seq"] - c["first_seq"] + 1 for c in manifest["chunks"])
        last_vin = vin
    return TripGroups(zone, groups)


def _manifest(zone: LandingZone, trip_id: str) -> dict:
    return zone.read_json(zone.trip_key(trip_id, "manifest.json"))


def load_trips(zone: LandingZone, trip_ids: list[str]) -> TripBatch:
    return _load(zone, [(trip_id, _manifest(zone, trip_id)) for trip_id in trip_ids])


def _load(zone: LandingZone, refs: list[tuple[str, dict]]) -> TripBatch:
    trips, events, dtcs = [], [], []
    for trip_id, manifest in refs:
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
