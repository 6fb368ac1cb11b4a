"""Every bad input: clear status + message, and the landing zone is left exactly as it was."""

from __future__ import annotations

import gzip
import json

import pytest
from fleet_protocol import encode_chunk, sha256_hex


@pytest.fixture
def started(client, make_trip):
    trip = make_trip(n=50, per_chunk=20)
    assert client.create(trip).status_code == 201
    return trip


def _assert_rejected(resp, status, error, fragment):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == error
    assert fragment in body["message"], body["message"]


def _chunk_files(landing, trip):
    return sorted(p.name for p in (landing / "trips" / trip.trip_id).rglob("*") if p.is_file() and p.name != ".lock"
                  and p.name != "trip.json")


def test_wrong_sha256(client, landing, started, snapshot):
    before = snapshot(landing)
    resp = client.put(started.trip_id, 1, started.chunks[1], sha="0" * 64)
    _assert_rejected(resp, 400, "checksum_mismatch", "does not match the body")
    assert snapshot(landing) == before and _chunk_files(landing, started) == []


def test_missing_sha256_header(client, landing, started, snapshot):
    before = snapshot(landing)
    _assert_rejected(client.put(started.trip_id, 1, started.chunks[1], sha=""), 400, "missing_checksum", "X-Chunk-SHA256")
    assert snapshot(landing) == before


def test_truncated_gzip(client, landing, started, snapshot):
    before = snapshot(landing)
    body = started.chunks[1][:-12]
    _assert_rejected(client.put(started.trip_id, 1, body), 422, "invalid_chunk", "truncated")
    assert snapshot(landing) == before


def test_gzip_bomb(client, landing, started, snapshot):
    bomb = gzip.compress(b"\n" * (8 * 1024 * 1024), compresslevel=9)  # ~8 KiB on the wire, 8 MiB inflated
    assert len(bomb) < 64 * 1024
    before = snapshot(landing)
    _assert_rejected(client.put(started.trip_id, 1, bomb), 422, "invalid_chunk", "gzip bomb")
    assert snapshot(landing) == before


def test_oversized_body_rejected_by_content_length(client, landing, started, snapshot):
    body = b"x" * (256 * 1024 + 1)
    before = snapshot(landing)
    _assert_rejected(client.put(started.trip_id, 1, body), 413, "body_too_large", "exceeds the 262144 byte limit")
    assert snapshot(landing) == before


def test_body_without_content_length_is_411(client, landing, started, snapshot):
    async def stream():
        yield started.chunks[1]

    before = snapshot(landing)
    resp = client.put(started.trip_id, 1, stream(), sha=sha256_hex(started.chunks[1]))
    _assert_rejected(resp, 411, "length_required", "Content-Length")
    assert snapshot(landing) == before


def test_invalid_event_line(client, landing, started, snapshot):
    good = [r.to_json_dict() for r in started.records[:3]]
    good[1]["lat"] = 123.0  # out of range
    body = encode_chunk(good)
    before = snapshot(landing)
    _assert_rejected(client.put(started.trip_id, 1, body), 422, "invalid_chunk", "line 2: invalid event: lat")
    assert snapshot(landing) == before


def test_not_json_line(client, landing, started, snapshot):
    body = gzip.compress(b'{"this is": not json}\n', mtime=0)
    before = snapshot(landing)
    _assert_rejected(client.put(started.trip_id, 1, body), 422, "invalid_chunk", "line 1: invalid event")
    assert snapshot(landing) == before


def test_chunk_of_another_trip(client, landing, started, make_trip, snapshot):
    other = make_trip()
    before = snapshot(landing)
    _assert_rejected(client.put(started.trip_id, 1, other.chunks[1]), 422, "invalid_chunk", "does not match")
    assert snapshot(landing) == before


@pytest.mark.parametrize(
    "trip_id",
    ["../../etc/passwd", "/etc/passwd", "..", "a/b", "3F2504E0-4F89-11D3-9A0C-0305E82C3301", "x" * 36],
)
def test_path_tricks_in_create_body(client, landing, make_trip, snapshot, trip_id):
    body = dict(make_trip().create_body(), trip_id=trip_id)
    resp = client.request("POST", "/v1/trips", json=body)
    _assert_rejected(resp, 400, "invalid_id", "trip_id must be")
    assert snapshot(landing) == {}


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/v1/trips/..%2F..%2Fetc/chunks/1", 404, "not_found"),
        ("/v1/trips/%2Fetc%2Fpasswd/chunks/1", 404, "not_found"),
        ("/v1/trips/..%252F..%252Fx/chunks/1", 400, "invalid_id"),
        ("/v1/trips/../../etc/chunks/1", 404, "not_found"),
    ],
)
def test_path_tricks_in_url(client, landing, started, snapshot, path, status, error):
    before = snapshot(landing)
    resp = client.request("PUT", path, content=started.chunks[1],
                          headers={"Content-Type": "application/x-ndjson+gzip", "X-Chunk-SHA256": sha256_hex(started.chunks[1])})
    assert resp.status_code == status and resp.json()["error"] == error, resp.text
    assert snapshot(landing) == before


@pytest.mark.parametrize("chunk_no", ["0", "01", "-1", "1.5", "100000", "1%2F..", "%2E%2E"])
def test_bad_chunk_numbers(client, landing, started, snapshot, chunk_no):
    before = snapshot(landing)
    resp = client.request("PUT", f"/v1/trips/{started.trip_id}/chunks/{chunk_no}", content=started.chunks[1],
                          headers={"Content-Type": "application/x-ndjson+gzip", "X-Chunk-SHA256": sha256_hex(started.chunks[1]),
                                   "Idempotency-Key": f"{started.trip_id}:{chunk_no}"})
    assert resp.status_code in (400, 404), resp.text
    assert resp.json()["error"] in ("invalid_id", "not_found")
    assert snapshot(landing) == before


def test_missing_key(client, landing, make_trip, snapshot):
    resp = client.create(make_trip(), key=None)
    _assert_rejected(resp, 401, "unauthorized", "missing Authorization")
    assert snapshot(landing) == {}


def test_wrong_key(client, landing, make_trip, snapshot):
    resp = client.create(make_trip(), key="not-a-key")
    _assert_rejected(resp, 401, "unauthorized", "unknown API key")
    assert snapshot(landing) == {}


def test_device_cannot_create_other_vins_trip(client, landing, make_trip, snapshot, keys):
    resp = client.create(make_trip(vin=keys["VIN_B"]))  # client key is device A
    _assert_rejected(resp, 403, "forbidden_vin", "may not write trips of vin")
    assert snapshot(landing) == {}


def test_device_cannot_write_another_devices_trip(client, landing, started, snapshot, keys):
    before = snapshot(landing)
    answers = [
        client.put(started.trip_id, 1, started.chunks[1], key=keys["B"]),
        client.complete(started.trip_id, started.manifest_json(), key=keys["B"]),
        client.request("GET", f"/v1/trips/{started.trip_id}", key=keys["B"]),
        client.request("DELETE", f"/v1/trips/{started.trip_id}/chunks/1", key=keys["B"]),
        # re-registering the other device's trip id under one's own VIN
        client.request("POST", "/v1/trips", key=keys["B"], json=dict(started.create_body(), vin=keys["VIN_B"])),
    ]
    for resp in answers:
        _assert_rejected(resp, 403, "forbidden_trip", f"device 'dev-b' may not write trip {started.trip_id}")
        assert keys["VIN_A"] not in resp.text  # the other device's VIN is not disclosed
    assert snapshot(landing) == before


def test_wrong_content_type_and_idempotency_key(client, landing, started, snapshot):
    before = snapshot(landing)
    resp = client.put(started.trip_id, 1, started.chunks[1], headers={"Content-Type": "application/json"})
    _assert_rejected(resp, 415, "unsupported_media_type", "application/x-ndjson+gzip")
    resp = client.put(started.trip_id, 1, started.chunks[1], headers={"Idempotency-Key": f"{started.trip_id}:2"})
    _assert_rejected(resp, 400, "bad_idempotency_key", "Idempotency-Key must be")
    assert snapshot(landing) == before


def test_chunk_for_unknown_trip_is_404(client, landing, make_trip, snapshot):
    trip = make_trip()
    _assert_rejected(client.put(trip.trip_id, 1, trip.chunks[1]), 404, "trip_not_found", "POST /v1/trips first")
    assert snapshot(landing) == {}


def test_invalid_create_bodies(client, landing, snapshot, keys):
    _assert_rejected(client.request("POST", "/v1/trips", content=b"{nope", headers={"Content-Type": "application/json"}),
                     400, "invalid_json", "not valid JSON")
    _assert_rejected(client.request("POST", "/v1/trips", json={"vin": keys["VIN_A"]}), 422, "invalid_trip", "trip_id, started_at")
    body = {"vin": keys["VIN_A"], "trip_id": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "started_at": "yesterday"}
    _assert_rejected(client.request("POST", "/v1/trips", json=body), 422, "invalid_trip", "started_at")
    assert snapshot(landing) == {}


def _upload_chunks(client, trip):
    for no, body in trip.chunks.items():
        assert client.put(trip.trip_id, no, body).status_code == 201


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda m: m["chunks"].__setitem__(1, dict(m["chunks"][1], sha256="a" * 64)), "chunk 2: manifest sha256"),
        (lambda m: m["chunks"].__setitem__(0, dict(m["chunks"][0], size_bytes=7)), "chunk 1: manifest size_bytes"),
        (lambda m: (m["chunks"].append({"no": 4, "first_seq": 51, "last_seq": 60, "size_bytes": 10, "sha256": "b" * 64}),
                    m.__setitem__("event_count", 60)), "[4] listed in the manifest were never uploaded"),
        (lambda m: (m["chunks"].pop(), m.__setitem__("event_count", 40)), "uploaded chunk(s) [3] are not listed"),
        (lambda m: m.__setitem__("event_count", 49), "event_count 49 does not match"),
        (lambda m: m.__setitem__("vin", "1FTFW1E50PFA00009"), "manifest vin"),
        (lambda m: m.__setitem__("started_at", "2025-03-04T09:00:00Z"), "manifest started_at"),
    ],
)
def test_manifest_disagreeing_with_chunks(client, landing, started, snapshot, mutate, fragment):
    _upload_chunks(client, started)
    manifest = json.loads(json.dumps(started.manifest_json()))
    mutate(manifest)
    before = snapshot(landing)
    resp = client.complete(started.trip_id, manifest)
    assert resp.status_code == 422 and resp.json()["error"] in ("manifest_mismatch", "invalid_manifest"), resp.text
    assert fragment in resp.json()["message"]
    assert snapshot(landing) == before
    assert not (landing / "completed").exists() and not (landing / "days").exists()


def test_body_larger_than_declared_is_cut_off_while_streaming(client, landing, started, snapshot):
    body = b"x" * (300 * 1024)  # a lying client: declares 10 bytes, streams 300 KiB
    before = snapshot(landing)
    resp = client.put(started.trip_id, 1, body, sha=sha256_hex(body), headers={"Content-Length": "10"})
    _assert_rejected(resp, 413, "body_too_large", "body exceeds the 262144 byte limit")
    assert snapshot(landing) == before


# ---- seq ranges that can never tile into a manifest are refused at PUT time ----

def _seq_chunk(trip, first: int, last: int) -> bytes:
    return encode_chunk(trip.records[first - 1:last])


@pytest.mark.parametrize(
    ("stored", "no", "seqs", "fragment"),
    [
        # the stray chunk: chunk 2 repeats seq 1..20 of chunk 1
        ({1: (1, 20)}, 2, (1, 20), "chunk 2 (seq 1..20) overlaps stored chunk 1 (seq 1..20)"),
        ({1: (1, 20)}, 2, (15, 35), "chunk 2 (seq 15..35) overlaps stored chunk 1 (seq 1..20)"),
        # uploaded out of order: the later chunk is already there
        ({3: (41, 50)}, 2, (21, 45), "chunk 2 (seq 21..45) overlaps stored chunk 3 (seq 41..50)"),
        # adjacent chunks must meet exactly: a hole between them could never be filled
        ({1: (1, 20)}, 2, (25, 40), "chunk 2 (seq 25..40) must start at seq 21, right after stored chunk 1"),
        ({3: (41, 50)}, 2, (21, 38), "chunk 2 (seq 21..38) must end at seq 40, right before stored chunk 3"),
        # not overlapping, but chunk 2 would have no seq left
        ({1: (1, 20)}, 3, (21, 30), "chunks 2..2 need at least 1 seq(s) between stored chunk 1 (seq 1..20) and it"),
    ],
)
def test_chunk_that_conflicts_with_stored_seq_ranges_is_409(client, landing, started, snapshot, stored, no, seqs,
                                                            fragment):
    for stored_no, (first, last) in stored.items():
        assert client.put(started.trip_id, stored_no, _seq_chunk(started, first, last)).status_code == 201
    before = snapshot(landing)
    resp = client.put(started.trip_id, no, _seq_chunk(started, *seqs))
    _assert_rejected(resp, 409, "seq_conflict", fragment)
    assert "DELETE" in resp.json()["message"]  # says how to recover
    assert snapshot(landing) == before


@pytest.mark.parametrize(
    ("no", "records", "fragment"),
    [
        (1, lambda t: t.records[4:20], "chunk 1 must start at seq 1, starts at 5"),
        (3, lambda t: t.records[1:5], "chunk 3 starts at seq 2, but chunks 1..2 hold at least 2 records"),
        (1, lambda t: t.records[0:5] + t.records[9:12], "chunk 1: seq 1..12 has gaps (8 records)"),
    ],
)
def test_chunk_whose_seq_range_can_never_tile_is_422(client, landing, started, snapshot, no, records, fragment):
    before = snapshot(landing)
    resp = client.put(started.trip_id, no, encode_chunk(records(started)))
    _assert_rejected(resp, 422, "invalid_chunk", fragment)
    assert snapshot(landing) == before


def test_delete_chunk_of_completed_trip_is_409(client, landing, make_trip, snapshot):
    trip = make_trip()
    assert client.upload(trip).status_code == 200
    before = snapshot(landing)
    resp = client.request("DELETE", f"/v1/trips/{trip.trip_id}/chunks/2")
    _assert_rejected(resp, 409, "trip_completed", f"trip {trip.trip_id} is complete; its chunks can no longer be deleted")
    assert snapshot(landing) == before


def test_delete_chunk_bad_ids_and_unknown_trip(client, landing, started, make_trip, snapshot):
    before = snapshot(landing)
    _assert_rejected(client.request("DELETE", f"/v1/trips/{started.trip_id}/chunks/0"), 400, "invalid_id", "chunk")
    _assert_rejected(client.request("DELETE", f"/v1/trips/{make_trip().trip_id}/chunks/1"), 404, "trip_not_found",
                     "does not exist")
    assert snapshot(landing) == before


def test_rejected_chunks_leave_either_backend_unchanged(backend_client, backend_zone, make_trip):
    """The main rejections on both backends (S3 + Postgres too): same answers, no object written."""
    from .conftest import zone_snapshot

    client, zone = backend_client, backend_zone
    trip = make_trip(n=50, per_chunk=20)
    assert client.create(trip).status_code == 201
    assert client.put(trip.trip_id, 1, trip.chunks[1]).status_code == 201
    before = zone_snapshot(backend_zone)
    bad_line = [r.to_json_dict() for r in trip.records[20:23]]
    bad_line[1]["lat"] = 123.0
    cases = [
        (client.put(trip.trip_id, 2, trip.chunks[2], sha="0" * 64), 400, "checksum_mismatch", "does not match"),
        (client.put(trip.trip_id, 2, trip.chunks[2][:-12]), 422, "invalid_chunk", "truncated"),
        (client.put(trip.trip_id, 2, encode_chunk(bad_line)), 422, "invalid_chunk", "line 2: invalid event: lat"),
        (client.put(trip.trip_id, 1, trip.chunks[2]), 409, "chunk_conflict", "different sha256"),
        (client.put(trip.trip_id, 2, encode_chunk(trip.records[10:30])), 409, "seq_conflict", "overlaps"),
        (client.complete(trip.trip_id, trip.manifest_json()), 422, "manifest_mismatch", "never uploaded"),
    ]
    for resp, status, error, fragment in cases:
        _assert_rejected(resp, status, error, fragment)
    assert zone_snapshot(zone) == before and zone.read_completions(0) == []
