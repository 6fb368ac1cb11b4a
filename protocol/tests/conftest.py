import uuid
from datetime import datetime, timedelta, timezone

import pytest

from fleet_protocol import DtcRecord, EdgeEvent

VIN = "WAUZZZFY0R1234567"
T0 = datetime(2025, 11, 4, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def trip_id() -> str:
    return str(uuid.UUID(int=0x1234))


@pytest.fixture
def records(trip_id):
    events = [
        EdgeEvent(vin=VIN, trip_id=trip_id, seq=i, ts=T0 + timedelta(seconds=i), lat=49.5 + i / 1e4,
                  lon=8.65, speed_kph=40.0 + i, rpm=2000)
        for i in range(1, 6)
    ]
    return events + [DtcRecord(kind="dtc", vin=VIN, trip_id=trip_id, seq=6, ts=T0 + timedelta(seconds=6),
                               code="P0143", description="O2 Sensor Circuit Low Voltage")]
