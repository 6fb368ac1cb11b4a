"""Fixtures: an ingest app on a tmp landing zone, driven over httpx's ASGI transport.

``backend_zone``/``backend_client`` run a test twice: embedded (a local directory, file state) and deployed
(landing/ of a fresh S3 bucket on moto_server, state in a fresh Postgres database), so the two cannot drift.
``Server`` is ``fleet-ingest-server`` as a real subprocess (the one helper that starts it in this tree).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from fleet_assets.ingest.app import create_app
from fleet_assets.ingest.keys import KeyRing, hash_key
from fleet_assets.ingest.landing import LandingZone
from fleet_assets.ingest.synthetic import synthetic_trip, utc

VIN_A = "1FTFW1E50PFA00001"
VIN_B = "1FTFW1E50PFA00002"
KEY_A = "key-device-a-0123456789"
KEY_B = "key-device-b-0123456789"


def write_keys(path: Path) -> Path:
    path.write_text(json.dumps({"devices": [
        {"device": "dev-a", "key_sha256": hash_key(KEY_A), "vins": [VIN_A]},
        {"device": "dev-b", "key_sha256": hash_key(KEY_B), "vins": [VIN_B]},
    ]}))
    return path


class AsgiClient:
    """Synchronous facade over httpx.AsyncClient + ASGITransport (real HTTP semantics, no server)."""

    def __init__(self, app, key: str | None = KEY_A):
        self.app = app
        self.key = key

    def request(self, method: str, url: str, *, key: str | None = "default", headers=None, **kwargs) -> httpx.Response:
        key = self.key if key == "default" else key
        headers = dict(headers or {})
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")

        async def go():
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://ingest.test") as client:
                return await client.request(method, url, headers=headers, **kwargs)

        return asyncio.run(go())

    def create(self, trip, **kw):
        return self.request("POST", "/v1/trips", json=trip.create_body(), **kw)

    def put(self, trip_id: str, no, body: bytes, *, sha: str | None = None, headers=None, **kw):
        from fleet_protocol import sha256_hex

        h = {
            "Idempotency-Key": f"{trip_id}:{no}",
            "X-Chunk-SHA256": sha if sha is not None else sha256_hex(body),
            "Content-Type": "application/x-ndjson+gzip",
        }
        h.update(headers or {})
        return self.request("PUT", f"/v1/trips/{trip_id}/chunks/{no}", content=body, headers=h, **kw)

    def complete(self, trip_id: str, manifest: dict, **kw):
        return self.request("POST", f"/v1/trips/{trip_id}/complete", json=manifest, **kw)

    def upload(self, trip) -> httpx.Response:
        assert self.create(trip).status_code in (200, 201)
        for no, body in trip.chunks.items():
            assert self.put(trip.trip_id, no, body).status_code in (200, 201)
        return self.complete(trip.trip_id, trip.manifest_json())


def landing_snapshot(root: Path) -> dict[str, bytes]:
    """Every file (hidden temp files included) under the landing zone, except lock files."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.name != ".lock"}


def new_trip(vin: str = VIN_A, n: int = 50, per_chunk: int = 20, start=None):
    return synthetic_trip(vin, str(uuid.uuid4()), start or utc(2025, 3, 4, 10, 0, 0), n, per_chunk=per_chunk)


@pytest.fixture
def landing(tmp_path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def keyring(tmp_path) -> KeyRing:
    return KeyRing.load(write_keys(tmp_path / "keys.json"))


@pytest.fixture
def client(landing, keyring) -> AsgiClient:
    return AsgiClient(create_app(landing, keyring, max_chunk_bytes=256 * 1024, max_decompressed_bytes=1024 * 1024, fsync=False))


@pytest.fixture
def make_trip():
    return new_trip


@pytest.fixture
def snapshot():
    return landing_snapshot


@pytest.fixture
def keys():
    return {"A": KEY_A, "B": KEY_B, "VIN_A": VIN_A, "VIN_B": VIN_B}


@pytest.fixture(params=["embedded", "deployed"])
def backend_zone(request, tmp_path):
    """The landing zone on each backend in turn: local directory + file state, then S3 + Postgres."""
    if request.param == "embedded":
        yield LandingZone(tmp_path / "landing", fsync=False)
        return
    from fleet_assets.storage.layout import DataLayout

    layout = DataLayout(tmp_path / "scratch", storage_url=request.getfixturevalue("s3_storage_url"),
                        state_url=request.getfixturevalue("state_url"))
    zone = LandingZone.for_layout(layout)
    yield zone
    zone.close()


@pytest.fixture
def backend_client(backend_zone, keyring) -> AsgiClient:
    return AsgiClient(create_app(backend_zone, keyring, max_chunk_bytes=256 * 1024, max_decompressed_bytes=1024 * 1024))


def zone_snapshot(zone: LandingZone) -> dict[str, bytes]:
    """Every object of the landing zone on any backend (by key)."""
    return {key: zone.store.read(key) for key in zone.store.list(zone.prefix)}


class Server:
    """``python -m fleet_assets.ingest.cli`` with its log captured to a file; ``extra`` replaces ``--keys-file``."""

    def __init__(self, tmp: Path, port: int, *, data: Path | None = None, extra: list[str] | None = None,
                 log_name: str = "server.log"):
        self.data = data or tmp / "data"
        self.log_path = tmp / log_name
        self.port = port
        self.url = f"http://127.0.0.1:{self.port}"
        args = extra if extra is not None else ["--keys-file", str(write_keys(tmp / "keys.json"))]
        cmd = [sys.executable, "-m", "fleet_assets.ingest.cli", "--data-dir", str(self.data), *args,
               "--port", str(self.port), "--no-fsync"]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ingest server did not start: {self.log()[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=0.5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)

    @property
    def landing(self) -> Path:
        return self.data / "landing"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, fragment: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while fragment not in self.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.log()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)
