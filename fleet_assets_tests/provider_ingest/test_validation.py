"""The telemetry datasets' rules behind the pre-write validation and the asset checks."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.publish import ValidationError, validate_or_raise
from fleet_assets.transforms.rules import DATASET_RULES

RULES = DATASET_RULES["normalized_motive"]


def run_checks(table, day):
    return RULES.evaluate(table, day)

DAY = "2026-03-01"


def _table(**overrides):
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    rows = [{"provider": "motive", "provider_vehicle_id": str(i), "vin": None, "fleet_number": None,
             "timestamp": t0 + timedelta(hours=i), "latitude": 10.0, "longitude": 20.0, "speed_mph": None,
             "heading_degrees": None, "engine_state": None, "driver_id": None, "driver_name": None,
             "location_description": None, "odometer": None} for i in range(3)]
    for key, value in overrides.items():
        rows[1][key] = value
    return pa.Table.from_pylist(rows, schema=TELEMETRY_SCHEMA)


def test_clean_table_passes_every_rule():
    assert all(ok for ok, _ in run_checks(_table(), DAY).values())


@pytest.mark.parametrize(
    "overrides, failing",
    [
        ({"latitude": 95.0}, "coordinates_in_range"),
        ({"longitude": -180.5}, "coordinates_in_range"),
        ({"timestamp": datetime(2026, 3, 2, tzinfo=UTC)}, "timestamps_in_partition_day"),
        ({"provider_vehicle_id": "0", "timestamp": datetime(2026, 3, 1, tzinfo=UTC)}, "no_duplicate_keys"),
    ],
)
def test_each_rule_catches_its_defect(overrides, failing):
    results = run_checks(_table(**overrides), DAY)
    assert [name for name, (ok, _) in results.items() if not ok] == [failing]
    with pytest.raises(ValidationError, match=f"failed validation, nothing written: .*{failing}"):
        validate_or_raise(_table(**overrides), DAY, RULES)


def test_schema_mismatch_is_reported_first():
    table = _table().cast(TELEMETRY_SCHEMA.set(13, pa.field("odometer", pa.float32())))
    assert run_checks(table, DAY)["schema_matches"][0] is False
