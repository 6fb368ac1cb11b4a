"""A real ingest server in a subprocess on loopback (the collector only speaks HTTP to it),
and trips cut into chunk files exactly as ``chunking.cut_trip`` lays them out."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from fleet_protocol import EdgeEvent, TripManifest, chunk_filename, encode_chunk, sha256_hex

VIN = "1FTFW1E50PFA00001"
KEY = "device-key-for-tests-0001"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class IngestServer:
    """``fleet-ingest-server`` as a child process that tests may SIGKILL and restart."""

    def __init__(self, data_dir: Path, keys_file: Path):
        self.data_dir, self.keys_file = data_dir, keys_file
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def landing(self) -> Path:
        return self.data_dir / "landing"

    def start(self) -> "IngestServer":
        cmd = [sys.executable, "-m", "fleet_assets.ingest.cli", "--data-dir", str(self.data_dir), "--keys-file",
               str(self.keys_file), "--port", str(self.port), "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ingest server exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("ingest server did not come up within 20 s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"devices": [
        {"device": "van-1", "key_sha256": hashlib.sha256(KEY.encode()).hexdigest(), "vins": [VIN]}]}))
    srv = IngestServer(tmp_path / "data", keys).start()
    yield srv
    srv.kill()


def cut_trip_files(out_dir: Path, n_events: int = 60, per_chunk: int = 25, pad: int = 0) -> TripManifest:
    """Write ``{trip_id}-{n}.ndjson.gz`` chunks + manifest like ``cut_trip``; ``pad`` fattens events."""
    trip_id = str(uuid.uuid4())
    start = datetime(2025, 3, 4, 10, tzinfo=timezone.utc)
    events = [EdgeEvent(vin=VIN, trip_id=trip_id, seq=i, ts=start + timedelta(seconds=i), lat=49 + i * 1e-5,
                        lon=8 + (i * 7919 % 10007) * 1e-7 * (pad + 1), speed_kph=float(i % 90), rpm=1000.0 + i)
              for i in range(1, n_events + 1)]
    out_dir.mkdir(parents=True, exist_ok=True)
    infos = []
    for no, index in enumerate(range(0, n_events, per_chunk), start=1):
        part = events[index:index + per_chunk]
        body = encode_chunk(part)
        (out_dir / chunk_filename(trip_id, no)).write_bytes(body)
        infos.append({"no": no, "first_seq": part[0].seq, "last_seq": part[-1].seq, "size_bytes": len(body),
                      "sha256": sha256_hex(body)})
    manifest = TripManifest(vin=VIN, trip_id=trip_id, started_at=start, ended_at=events[-1].ts,
                            event_count=n_events, chunks=infos)
    (out_dir / f"{trip_id}.manifest.json").write_text(manifest.model_dump_json())
    return manifest


@pytest.fixture
def cut(tmp_path):
    return lambda **kw: (cut_trip_files(tmp_path / "cut", **kw), tmp_path / "cut")
