"""Happy path, idempotency and resume status of the offline-upload API."""

from __future__ import annotations

import json
from pathlib import Path

from fleet_protocol import encode_chunk

from fleet_assets.ingest.landing import LandingZone
from fleet_assets.ingest.openapi import OPENAPI
from fleet_assets.ingest.synthetic import synthetic_records

from .conftest import zone_snapshot


def test_upload_complete_and_layout(backend_client, backend_zone, make_trip):
    client, zone = backend_client, backend_zone
    trip = make_trip(n=50, per_chunk=20)
    assert client.create(trip).status_code == 201
    again = client.create(trip)
    assert again.status_code == 200 and again.json() == {"trip_id": trip.trip_id, "created": False}
    for no, body in trip.chunks.items():
        resp = client.put(trip.trip_id, no, body)
        assert resp.status_code == 201, resp.text
    assert client.put(trip.trip_id, 2, trip.chunks[2]).status_code == 200  # identical re-send: no-op

    status = client.request("GET", f"/v1/trips/{trip.trip_id}").json()
    assert [c["no"] for c in status["chunks"]] == [1, 2, 3] and status["complete"] is False

    done = client.complete(trip.trip_id, trip.manifest_json())
    assert done.status_code == 200 and done.json()["marker"] == 1 and done.json()["created"] is True
    twice = client.complete(trip.trip_id, trip.manifest_json())
    assert twice.status_code == 200 and twice.json()["marker"] == 1 and twice.json()["created"] is False

    prefix = f"{zone.key('trips', trip.trip_id)}/"
    keys = {k[len(prefix):] for k in zone.store.list(zone.key("trips", trip.trip_id))}
    assert keys == {"trip.json", "manifest.json", "completed.json", "chunks/1.ndjson.gz", "chunks/1.json",
                    "chunks/2.ndjson.gz", "chunks/2.json", "chunks/3.ndjson.gz", "chunks/3.json"}
    for no, body in trip.chunks.items():
        assert zone.store.read(zone.chunk_key(trip.trip_id, no)) == body
    assert zone.store.exists(zone.key("days", "2025-03-04", trip.trip_id))
    markers = zone.read_completions(0)
    assert [(m.seq, m.trip_id, m.days, m.event_count) for m in markers] == [(1, trip.trip_id, ["2025-03-04"], 50)]
    assert zone.completed_trips_on_day("2025-03-04") == [trip.trip_id]
    assert client.request("GET", f"/v1/trips/{trip.trip_id}").json()["complete"] is True


def test_embedded_layout_is_unchanged(client, landing, make_trip):
    """Embedded default: the same files under <data>/landing as before deployed mode (file log included)."""
    trip = make_trip(n=50, per_chunk=20)
    assert client.upload(trip).status_code == 200
    trip_dir = landing / "trips" / trip.trip_id
    for no, body in trip.chunks.items():
        assert (trip_dir / "chunks" / f"{no}.ndjson.gz").read_bytes() == body
    assert (trip_dir / "completed.json").exists() and (landing / "days" / "2025-03-04" / trip.trip_id).exists()
    assert json.loads((landing / "completed" / "000000000001.json").read_bytes())["trip_id"] == trip.trip_id
    assert LandingZone(landing).read_completions(0)[0].trip_id == trip.trip_id


def test_different_body_for_stored_chunk_is_409(backend_client, backend_zone, make_trip):
    client, zone = backend_client, backend_zone
    trip = make_trip()
    client.create(trip)
    assert client.put(trip.trip_id, 1, trip.chunks[1]).status_code == 201
    before = zone_snapshot(zone)
    resp = client.put(trip.trip_id, 1, trip.chunks[2])
    assert resp.status_code == 409 and resp.json()["error"] == "chunk_conflict"
    assert zone.store.read(zone.chunk_key(trip.trip_id, 1)) == trip.chunks[1] and zone_snapshot(zone) == before


def test_body_without_sidecar_is_debris_and_replaced(backend_client, backend_zone, make_trip):
    """A writer killed between body and sidecar leaves a body alone: not "stored", replaced by the next upload."""
    client, zone = backend_client, backend_zone
    trip = make_trip(n=40, per_chunk=20)
    client.create(trip)
    zone.store.write(zone.chunk_key(trip.trip_id, 1), trip.chunks[2])  # debris: another body, no sidecar
    status = client.request("GET", f"/v1/trips/{trip.trip_id}").json()
    assert status["chunks"] == []
    assert client.put(trip.trip_id, 1, trip.chunks[1]).status_code == 201
    assert zone.store.read(zone.chunk_key(trip.trip_id, 1)) == trip.chunks[1]
    assert client.put(trip.trip_id, 2, trip.chunks[2]).status_code == 201
    assert client.complete(trip.trip_id, trip.manifest_json()).status_code == 200


def test_recreate_with_other_start_is_409(client, make_trip):
    trip = make_trip()
    client.create(trip)
    body = dict(trip.create_body(), started_at="2025-03-04T11:00:00Z")
    resp = client.request("POST", "/v1/trips", json=body)
    assert resp.status_code == 409 and "different" in resp.json()["message"]


def test_complete_twice_with_different_manifest_is_409(client, make_trip):
    trip = make_trip()
    assert client.upload(trip).status_code == 200
    other = dict(trip.manifest_json(), ended_at="2025-03-04T12:00:00Z")
    resp = client.complete(trip.trip_id, other)
    assert resp.status_code == 409 and resp.json()["error"] == "trip_completed"


def test_new_chunk_after_completion_is_409(client, landing, make_trip, snapshot):
    trip = make_trip(n=40, per_chunk=20)
    client.upload(trip)
    later = synthetic_records(trip.manifest.vin, trip.trip_id, trip.manifest.started_at, 60)[40:]
    before = snapshot(landing)
    resp = client.put(trip.trip_id, 3, encode_chunk(later))
    assert resp.status_code == 409 and resp.json()["error"] == "trip_completed"
    assert snapshot(landing) == before


def test_openapi_served_and_committed():
    from fleet_assets.ingest import app as app_module

    committed = json.loads((Path(app_module.__file__).parent / "openapi.json").read_text())
    assert committed == json.loads(json.dumps(OPENAPI))
    assert set(OPENAPI["paths"]) == {"/v1/trips", "/v1/trips/{trip_id}", "/v1/trips/{trip_id}/chunks/{chunk_no}",
                                     "/v1/trips/{trip_id}/complete"}
    chunk_ops = OPENAPI["paths"]["/v1/trips/{trip_id}/chunks/{chunk_no}"]
    assert set(chunk_ops) == {"put", "delete"} and "409" in chunk_ops["delete"]["responses"]


def test_openapi_endpoint(client):
    resp = client.request("GET", "/openapi.json", key=None)
    assert resp.status_code == 200 and resp.json()["openapi"].startswith("3.")


def test_unknown_route_is_json_404(client):
    resp = client.request("GET", "/v2/nothing")
    assert resp.status_code == 404 and resp.json()["error"] == "not_found"


def test_keys_never_logged(client, make_trip, caplog, keys):
    import logging

    caplog.set_level(logging.DEBUG)
    trip = make_trip()
    client.upload(trip)
    client.create(make_trip(), key="guessed-secret-key-123")
    assert keys["A"] not in caplog.text and "guessed-secret-key-123" not in caplog.text
    assert f"trip {trip.trip_id} complete" in caplog.text


def test_stray_chunk_is_deleted_and_trip_completes(backend_client, backend_zone, make_trip):
    """Recovery of a trip that is not complete yet: DELETE the stale chunk, PUT the right one, complete."""
    client, zone = backend_client, backend_zone
    trip = make_trip(n=50, per_chunk=20)
    client.create(trip)
    assert client.put(trip.trip_id, 1, trip.chunks[1]).status_code == 201
    stray = encode_chunk(trip.records[20:30])  # seq 21..30: an old cut of chunk 2
    assert client.put(trip.trip_id, 2, stray).status_code == 201
    status = client.request("GET", f"/v1/trips/{trip.trip_id}").json()
    assert [(c["no"], c["first_seq"], c["last_seq"]) for c in status["chunks"]] == [(1, 1, 20), (2, 21, 30)]

    conflict = client.put(trip.trip_id, 2, trip.chunks[2])
    assert conflict.status_code == 409 and "DELETE" in conflict.json()["message"]
    gone = client.request("DELETE", f"/v1/trips/{trip.trip_id}/chunks/2")
    assert gone.status_code == 200 and gone.json() == {"trip_id": trip.trip_id, "chunk_no": 2, "deleted": True}
    assert not zone.store.exists(zone.chunk_key(trip.trip_id, 2))
    assert not zone.store.exists(zone.sidecar_key(trip.trip_id, 2))
    before = zone_snapshot(zone)
    again = client.request("DELETE", f"/v1/trips/{trip.trip_id}/chunks/2")  # a retried DELETE is a no-op
    assert again.status_code == 200 and again.json()["deleted"] is False and zone_snapshot(zone) == before

    for no in (2, 3):
        assert client.put(trip.trip_id, no, trip.chunks[no]).status_code == 201
    done = client.complete(trip.trip_id, trip.manifest_json())
    assert done.status_code == 200, done.text
    assert zone.store.read(zone.chunk_key(trip.trip_id, 2)) == trip.chunks[2]


def test_valid_chunks_in_any_upload_order_are_accepted(client, make_trip):
    """The PUT-time seq checks never refuse a chunk of a valid cut, whatever order the chunks arrive in."""
    import itertools

    for order in itertools.permutations([1, 2, 3, 4]):
        trip = make_trip(n=40, per_chunk=10)
        client.create(trip)
        for no in order:
            resp = client.put(trip.trip_id, no, trip.chunks[no])
            assert resp.status_code == 201, (order, resp.text)
        assert client.complete(trip.trip_id, trip.manifest_json()).status_code == 200
