"""Synthetic provider wire records seeded into the raw store (no provider needed).

Vehicle "shared" (VIN SHAREDVIN00000001) is reported by both providers, two
Motive trucks have no VIN, and one Motive point is repeated: the day exercises
every dedup rule.
"""

from datetime import UTC, datetime, timedelta

import pytest

from fleet_assets.warehouse.resources import FleetStorage
from fleet_assets.storage.raw_store import write_raw
from fleet_assets.transforms.wire import motive_location_records, records_to_ndjson

DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")
POINTS = 24  # per vehicle per day, every hour (plus points outside the day)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def motive_wire(day: str) -> tuple[list[dict], dict[str, list[dict]]]:
    t0 = datetime.fromisoformat(day).replace(tzinfo=UTC)
    vehicles = [
        {"vehicle": {"id": 1, "number": "M-1", "vin": "SHAREDVIN00000001", "metric_units": False}},
        {"vehicle": {"id": 2, "number": "M-2", "vin": None, "metric_units": True}},
        {"vehicle": {"id": 3, "number": "M-3", "vin": "", "metric_units": False}},
    ]
    locations = {}
    for vid in ("1", "2", "3"):
        points = [
            {"vehicle_location": {"located_at": _iso(t0 + timedelta(hours=i)), "lat": 41.0 + i / 100, "lon": -87.0,
                                  "type": "breadcrumb", "speed": 30.0 + i, "bearing": 90.0, "true_odometer": 1000.0 + i,
                                  "description": "Chicago, IL", "driver": {"id": 7, "first_name": "Ann", "last_name": "Lee"}}}
            for i in range(-2, POINTS + 2)  # padded window: two points on each neighbouring day
        ]
        locations[vid] = points + [points[5]]  # a repeated point
    return vehicles, locations


def samsara_wire(day: str) -> tuple[list[dict], list[dict]]:
    t0 = datetime.fromisoformat(day).replace(tzinfo=UTC)
    stats = []
    for vid, vin in (("s1", "SHAREDVIN00000001"), ("s2", "SAMSARAVIN0000002")):
        stats.append({
            "id": vid, "name": f"Truck {vid}", "externalIds": {"samsara.vin": vin},
            "engineStates": [{"time": _iso(t0 - timedelta(hours=3)), "value": "On"}],
            "obdOdometerMeters": [{"time": _iso(t0 + timedelta(hours=i)), "value": 1_609_344 + 1000 * i} for i in range(POINTS)],
            "gps": [{"time": _iso(t0 + timedelta(hours=i)), "latitude": 33.0 + i / 100, "longitude": -96.0,
                     "headingDegrees": 180, "speedMilesPerHour": 50.0, "reverseGeo": {"formattedLocation": "Dallas, TX"}}
                    for i in range(-1, POINTS)],
        })
    assignments = [{"driver": {"id": "d1", "name": "Bo"}, "vehicle": {"id": "s1"}, "startTime": _iso(t0 - timedelta(days=3)),
                    "endTime": "", "isPassenger": False, "assignmentType": "driverApp", "assignedAtTime": ""}]
    return stats, assignments


def seed_raw(storage: FleetStorage, day: str) -> None:
    vehicles, locations = motive_wire(day)
    write_raw(storage.raw_dir, "motive", day, {
        "vehicles": records_to_ndjson([v["vehicle"] for v in vehicles]),
        "locations": records_to_ndjson(motive_location_records(locations)),
    }, {"seeded": True})
    stats, assignments = samsara_wire(day)
    write_raw(storage.raw_dir, "samsara", day, {"stats": records_to_ndjson(stats), "assignments": records_to_ndjson(assignments)}, {})


@pytest.fixture
def storage(tmp_path) -> FleetStorage:
    return FleetStorage(data_dir=str(tmp_path / "data"))
