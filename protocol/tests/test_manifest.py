import json

import pytest
from pydantic import ValidationError

from fleet_protocol import TripManifest

VIN = "WAUZZZFY0R1234567"

SHA = "a" * 64


def _manifest(trip_id, chunks, event_count):
    return {"schema_version": 1, "vin": VIN, "trip_id": trip_id, "started_at": "2025-11-04T11:53:12Z",
            "ended_at": "2025-11-04T12:21:44Z", "event_count": event_count, "chunks": chunks}


def test_seed_example_round_trips(trip_id):
    data = _manifest(trip_id, [
        {"no": 1, "first_seq": 1, "last_seq": 900, "size_bytes": 214532, "sha256": SHA},
        {"no": 2, "first_seq": 901, "last_seq": 1800, "size_bytes": 209331, "sha256": SHA},
        {"no": 3, "first_seq": 1801, "last_seq": 3481, "size_bytes": 301223, "sha256": SHA},
    ], 3481)
    manifest = TripManifest.model_validate(data)
    again = TripManifest.model_validate_json(manifest.model_dump_json())
    assert again == manifest and again.event_count == 3481


@pytest.mark.parametrize(
    "chunks, count, message",
    [
        ([{"no": 1, "first_seq": 1, "last_seq": 10, "size_bytes": 5, "sha256": SHA},
          {"no": 3, "first_seq": 11, "last_seq": 20, "size_bytes": 5, "sha256": SHA}], 20, "numbered 1..n"),
        ([{"no": 1, "first_seq": 1, "last_seq": 10, "size_bytes": 5, "sha256": SHA},
          {"no": 2, "first_seq": 10, "last_seq": 20, "size_bytes": 5, "sha256": SHA}], 20, "without gaps or overlaps"),
        ([{"no": 1, "first_seq": 1, "last_seq": 10, "size_bytes": 5, "sha256": SHA}], 11, "event_count 11"),
        ([{"no": 1, "first_seq": 1, "last_seq": 10, "size_bytes": 5, "sha256": "xyz"}], 10, "sha256"),
    ],
)
def test_inconsistent_manifests_are_rejected(trip_id, chunks, count, message):
    with pytest.raises(ValidationError, match=message):
        TripManifest.model_validate(_manifest(trip_id, chunks, count))


def test_path_trick_in_manifest_trip_id():
    with pytest.raises(ValidationError, match="trip_id must be"):
        TripManifest.model_validate(_manifest("../../etc", [], 0))
    assert json.loads(TripManifest.model_validate(_manifest("00000000-0000-0000-0000-000000001234", [], 0))
                      .model_dump_json())["event_count"] == 0
