"""Fixtures: an ingest app on a tmp landing zone, driven over httpx's ASGI transport."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest

from fleet_assets.ingest.app import create_app
from fleet_assets.ingest.keys import KeyRing, hash_key
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
