"""Small unified-schema tables for storage tests."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA


def telemetry_rows(day: str, n: int, provider: str = "samsara") -> pa.Table:
    t0 = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {"provider": provider, "provider_vehicle_id": f"v{i % 3}", "vin": f"VIN{i % 3:014d}", "fleet_number": f"T{i % 3}",
             "timestamp": t0 + timedelta(seconds=i), "latitude": 40.0 + i * 1e-4, "longitude": -90.0, "speed_mph": float(i % 70),
             "heading_degrees": 90.0, "engine_state": "On", "driver_id": None, "driver_name": None,
             "location_description": "Somewhere", "odometer": 1000.0 + i}
            for i in range(n)
        ],
        schema=TELEMETRY_SCHEMA,
    )


@pytest.fixture
def make_rows():
    return telemetry_rows
