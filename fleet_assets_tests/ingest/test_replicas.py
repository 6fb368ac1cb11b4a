"""Two ``fleet-ingest-server`` replicas (real subprocesses, separate scratch dirs) on one bucket and one Postgres.

They must behave as one service: any chunk to either replica, completion on either, no chunk lost or
duplicated, a gapless ordered completion log, and the trips sensor requesting each day exactly once.
A replica SIGKILLed mid-chunk leaves that chunk absent or whole, and the retry on the other succeeds.
"""

from __future__ import annotations

import random
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import dagster as dg
import httpx
import pytest
from fleet_protocol import CHUNK_CONTENT_TYPE, sha256_hex

from fleet_assets.ingest.keys import hash_key
from fleet_assets.ingest.landing import LandingZone
from fleet_assets.ingest.state import PostgresState
from fleet_assets.ingest.synthetic import synthetic_trip, utc
from fleet_assets.storage.layout import DataLayout
from fleet_assets.trips.defs import defs as trips_defs
from fleet_assets.trips.sensors import completed_trips_sensor
from fleet_assets.warehouse.resources import FleetStorage

from .conftest import KEY_A, VIN_A, Server

pytestmark = pytest.mark.slow
AUTH = {"Authorization": f"Bearer {KEY_A}"}


@pytest.fixture
def deployed(tmp_path, s3_storage_url, state_url, monkeypatch):
    """The settings a deployment exports for every replica, and the one device key, added once to Postgres."""
    monkeypatch.setenv("FLEET_STORAGE_URL", s3_storage_url)
    monkeypatch.setenv("FLEET_STATE_URL", state_url)
    state = PostgresState(state_url)
    state.add_device(hash_key(KEY_A), "dev-a", [VIN_A])
    zone = LandingZone.for_layout(DataLayout(tmp_path / "checker", storage_url=s3_storage_url, state_url=state_url),
                                  state=state)
    yield zone
    zone.close()


def _start_replicas(tmp_path, free_port, n=2) -> list[Server]:
    return [Server(tmp_path, free_port(), data=tmp_path / f"replica-{i}", log_name=f"replica-{i}.log",
                   extra=["--validate-workers", "0", "--log-level", "warning"]) for i in range(n)]


def _put(http: httpx.Client, url: str, trip, no: int) -> httpx.Response:
    body = trip.chunks[no]
    return http.put(f"{url}/v1/trips/{trip.trip_id}/chunks/{no}", content=body, headers={
        **AUTH, "Idempotency-Key": f"{trip.trip_id}:{no}", "X-Chunk-SHA256": sha256_hex(body),
        "Content-Type": CHUNK_CONTENT_TYPE})


def _uploader(urls: list[str], trip, seed: int) -> dict:
    """One device: create, a first pass that drops some chunks (link lost), resume from either replica's
    status, re-sends, one chunk raced to both replicas at once, completion on one and a repeat on the other."""
    rng = random.Random(seed)
    pick = lambda: rng.choice(urls)  # noqa: E731
    statuses: list[int] = []
    with httpx.Client(timeout=60) as http:
        assert http.post(f"{pick()}/v1/trips", json=trip.create_body(), headers=AUTH).status_code in (200, 201)
        numbers = list(trip.chunks)
        rng.shuffle(numbers)
        for no in numbers[: len(numbers) // 2]:
            statuses.append(_put(http, pick(), trip, no).status_code)
        have = {c["no"] for c in http.get(f"{pick()}/v1/trips/{trip.trip_id}", headers=AUTH).json()["chunks"]}
        missing = [no for no in trip.chunks if no not in have]
        raced, rest = missing[0], missing[1:]
        with ThreadPoolExecutor(2) as pool:  # the same chunk to both replicas at the same moment
            statuses += [f.result().status_code for f in [pool.submit(_put, httpx.Client(timeout=60), u, trip, raced)
                                                          for u in urls]]
        for no in rest + rng.sample(list(trip.chunks), 2):  # the rest, then two re-sends
            statuses.append(_put(http, pick(), trip, no).status_code)
        first, second = rng.sample(urls, 2)
        done = http.post(f"{first}/v1/trips/{trip.trip_id}/complete", json=trip.manifest_json(), headers=AUTH)
        again = http.post(f"{second}/v1/trips/{trip.trip_id}/complete", json=trip.manifest_json(), headers=AUTH)
    assert done.status_code == 200 and again.status_code == 200, (done.text, again.text)
    assert again.json()["marker"] == done.json()["marker"] and again.json()["created"] is False
    assert set(statuses) <= {200, 201}, statuses
    return {"marker": done.json()["marker"], "created": statuses.count(201)}


def _tick(storage: FleetStorage, cursor=None):
    with dg.instance_for_test() as instance:
        defs = dg.Definitions.merge(trips_defs, dg.Definitions(resources={"storage": storage}))
        context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                          resources={"storage": storage})
        return completed_trips_sensor(context)


def test_two_replicas_take_eight_concurrent_uploaders_as_one_service(deployed, tmp_path, free_port, s3_storage_url):
    replicas = _start_replicas(tmp_path, free_port)
    try:
        starts = [utc(2025, 3, 4 + i % 3, 23 if i % 4 == 0 else 9, 58, 0) for i in range(8)]  # some cross midnight
        trips = [synthetic_trip(VIN_A, str(uuid.uuid4()), start, 150, per_chunk=25) for start in starts]  # 6 chunks
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(_uploader, [[r.url for r in replicas]] * 8, trips, range(8)))
    finally:
        for replica in replicas:
            replica.stop()
    zone = deployed
    for trip, result in zip(trips, results):
        assert result["created"] == len(trip.chunks)  # each chunk stored exactly once, whichever replica got it
        assert sorted(zone.stored_chunks(trip.trip_id)) == sorted(trip.chunks)
        keys = zone.store.list(zone.key("trips", trip.trip_id, "chunks"))
        assert len(keys) == 2 * len(trip.chunks)  # body + sidecar per chunk, nothing else
        for no, body in trip.chunks.items():
            assert zone.read_chunk(trip.trip_id, no, sha256_hex(body)) == body
    log = zone.read_completions(0)
    assert [m.seq for m in log] == list(range(1, 9))  # gapless, in order
    assert sorted(m.trip_id for m in log) == sorted(t.trip_id for t in trips)
    assert {m.trip_id: m.seq for m in log} == {t.trip_id: r["marker"] for t, r in zip(trips, results)}

    days = sorted({day for m in log for day in m.days})
    storage = FleetStorage(data_dir=str(tmp_path / "dagster"), storage_url=s3_storage_url)
    first = _tick(storage)
    assert sorted(r.partition_key for r in first.run_requests) == days  # each day exactly once
    assert len({r.run_key for r in first.run_requests}) == len(days)
    assert _tick(storage, first.cursor).run_requests == []


def _send_raw(url: str, trip, no: int) -> socket.socket:
    """The whole PUT on a raw socket, response never read: the request is in the server's hands."""
    body = trip.chunks[no]
    host, port = url.removeprefix("http://").split(":")
    head = (f"PUT /v1/trips/{trip.trip_id}/chunks/{no} HTTP/1.1\r\nHost: ingest\r\nAuthorization: Bearer {KEY_A}\r\n"
            f"Idempotency-Key: {trip.trip_id}:{no}\r\nX-Chunk-SHA256: {sha256_hex(body)}\r\n"
            f"Content-Type: {CHUNK_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    sock = socket.create_connection((host, int(port)))
    sock.sendall(head + body)
    return sock


def test_replica_killed_mid_chunk_leaves_it_absent_or_whole_and_the_other_takes_the_retry(
        deployed, tmp_path, free_port, s3_storage_url, s3_env):
    """Two kills: while the chunk is validated (before any write), and the moment its body object appears."""
    survivor = _start_replicas(tmp_path, free_port, n=1)[0]
    zone = deployed
    trip = synthetic_trip(VIN_A, str(uuid.uuid4()), utc(2025, 3, 4, 10), 40000, per_chunk=20000)  # 2 x ~0.6 MB
    bucket, prefix = s3_storage_url.split("/")[2], s3_storage_url.split("/", 3)[3]
    s3 = boto3.client("s3", endpoint_url=s3_env, region_name="us-east-1")
    outcomes = []
    try:
        with httpx.Client(timeout=60) as http:
            assert http.post(f"{survivor.url}/v1/trips", json=trip.create_body(), headers=AUTH).status_code == 201
        for no, moment in ((1, "validating"), (2, "storing")):
            victim = Server(tmp_path, free_port(), data=tmp_path / f"victim-{no}", log_name=f"victim-{no}.log",
                            extra=["--validate-workers", "0", "--log-level", "warning"])
            sock = _send_raw(victim.url, trip, no)
            if moment == "validating":
                time.sleep(0.05)  # validation of ~20k lines takes far longer; nothing is written before it ends
            else:  # kill as soon as the body object appears (the sidecar PUT comes next)
                body_key, deadline = f"{prefix}/{zone.chunk_key(trip.trip_id, no)}", time.monotonic() + 30
                while time.monotonic() < deadline and not s3.list_objects_v2(Bucket=bucket, Prefix=body_key)["KeyCount"]:
                    time.sleep(0.002)
            victim.proc.kill()
            victim.proc.wait(timeout=10)
            sock.close()

            sidecar = zone.read_json(zone.sidecar_key(trip.trip_id, no))
            outcomes.append("absent" if sidecar is None else "whole")
            listed = [c["no"] for c in _status(survivor, trip)["chunks"]]
            if sidecar is None:  # absent: at most a body without sidecar, which nobody reports as stored
                assert no not in listed
            else:  # whole
                assert no in listed and sidecar["sha256"] == sha256_hex(trip.chunks[no])
                assert zone.read_chunk(trip.trip_id, no, sidecar["sha256"]) == trip.chunks[no]
            with httpx.Client(timeout=60) as http:
                retry = _put(http, survivor.url, trip, no)
            assert retry.status_code == (201 if sidecar is None else 200), retry.text
        assert outcomes[0] == "absent"
        with httpx.Client(timeout=60) as http:
            done = http.post(f"{survivor.url}/v1/trips/{trip.trip_id}/complete", json=trip.manifest_json(),
                             headers=AUTH)
        assert done.status_code == 200 and done.json()["marker"] == 1, done.text
        for no, body in trip.chunks.items():
            assert zone.read_chunk(trip.trip_id, no, sha256_hex(body)) == body
        assert [m.trip_id for m in zone.read_completions(0)] == [trip.trip_id]
    finally:
        survivor.stop()


def _status(server: Server, trip) -> dict:
    return httpx.get(f"{server.url}/v1/trips/{trip.trip_id}", headers=AUTH, timeout=30).json()
