"""Fixtures: a data dir whose landing zone holds completed trips, put there by the ingest service.

``storage``/``zone``/``land_trip`` are embedded; ``backend_storage``/``backend_land_trip`` run a test on each
backend (embedded, then S3 on moto_server + Postgres via FLEET_STATE_URL, as a deployment sets it).
"""

from __future__ import annotations

import uuid

import pytest
from fleet_protocol import sha256_hex

from fleet_assets.ingest import service
from fleet_assets.ingest.landing import LandingZone
from fleet_assets.ingest.synthetic import synthetic_trip, trip_from_records, utc
from fleet_assets.warehouse.resources import FleetStorage

VIN = "1FTFW1E50PFA00001"


def land(zone: LandingZone, trip) -> int:
    service.create_trip(zone, trip.create_body(), None)
    for no, body in trip.chunks.items():
        service.put_chunk(zone, trip.trip_id, no, body, sha256_hex(body), None)
    return service.complete_trip(zone, trip.trip_id, trip.manifest_json(), None)[1]["marker"]


@pytest.fixture
def storage(tmp_path) -> FleetStorage:
    return FleetStorage(data_dir=str(tmp_path / "data"))


@pytest.fixture
def zone(storage) -> LandingZone:
    return LandingZone(storage.landing_dir, fsync=False)


@pytest.fixture(params=["embedded", "deployed"])
def backend_storage(request, tmp_path, monkeypatch) -> FleetStorage:
    if request.param == "embedded":
        return FleetStorage(data_dir=str(tmp_path / "data"))
    monkeypatch.setenv("FLEET_STATE_URL", request.getfixturevalue("state_url"))
    return FleetStorage(data_dir=str(tmp_path / "data"), storage_url=request.getfixturevalue("s3_storage_url"))


@pytest.fixture
def backend_zone(backend_storage) -> LandingZone:
    zone = LandingZone.for_layout(backend_storage.layout)
    yield zone
    zone.close()


@pytest.fixture
def backend_land_trip(backend_zone):
    return _lander(backend_zone)


@pytest.fixture
def land_trip(zone):
    return _lander(zone)


def _lander(zone: LandingZone):
    def _land(start=None, n=60, per_chunk=25, vin=VIN, records=None):
        trip_id = str(uuid.uuid4())
        start = start or utc(2025, 3, 4, 10, 0, 0)
        if records is not None:
            trip = trip_from_records(vin, trip_id, start, records(vin, trip_id), per_chunk=per_chunk)
        else:
            trip = synthetic_trip(vin, trip_id, start, n, per_chunk=per_chunk)
        land(zone, trip)
        return trip

    return _land
