"""cut_trip: seed-004 manifest, determinism, real gzip/sha256sum verification, failure atomicity."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from datetime import timedelta

import pytest
from fleet_protocol import TripManifest, decode_chunk

from edge_collector.chunking import ChunkingError, cut_trip, manifest_filename

from .conftest import T0, VIN, sample_rows


@pytest.fixture
def ended_trip(buffer):
    trip = buffer.start_trip(VIN, T0)
    buffer.append(trip, sample_rows(1000))
    buffer.append(trip, [{"kind": "dtc", "ts": T0 + timedelta(seconds=1000), "code": "P0143",
                          "description": "O2 Sensor Circuit Low Voltage"}])
    buffer.append(trip, sample_rows(1000, 1000))
    buffer.end_trip(trip, T0 + timedelta(seconds=2000))
    return trip


def test_manifest_matches_seed_and_chunks(buffer, ended_trip, tmp_path):
    out = tmp_path / "out"
    manifest = cut_trip(buffer, ended_trip, out, max_records_per_chunk=900)
    assert [(c.no, c.first_seq, c.last_seq) for c in manifest.chunks] == [(1, 1, 900), (2, 901, 1800), (3, 1801, 2001)]
    assert manifest.event_count == 2001 and manifest.vin == VIN
    raw = json.loads((out / manifest_filename(ended_trip)).read_text())
    assert list(raw) == ["schema_version", "vin", "trip_id", "started_at", "ended_at", "event_count", "chunks"]
    assert raw["started_at"] == "2025-11-04T11:53:12Z" and raw["ended_at"] == "2025-11-04T12:26:32Z"
    assert TripManifest.model_validate_json((out / manifest_filename(ended_trip)).read_text()) == manifest
    seqs, kinds = [], set()
    for chunk in manifest.chunks:
        records = decode_chunk((out / f"{ended_trip}-{chunk.no}.ndjson.gz").read_bytes(), trip_id=ended_trip, vin=VIN)
        seqs += [r.seq for r in records]
        kinds |= {r.kind for r in records}
    assert seqs == list(range(1, 2002)) and kinds == {"event", "dtc"}


def test_real_gzip_and_sha256sum_verify(buffer, ended_trip, tmp_path):
    manifest = cut_trip(buffer, ended_trip, tmp_path, max_records_per_chunk=700)
    names = [f"{ended_trip}-{c.no}.ndjson.gz" for c in manifest.chunks]
    subprocess.run(["gzip", "-t", *names], cwd=tmp_path, check=True)
    sums = "".join(f"{c.sha256}  {name}\n" for c, name in zip(manifest.chunks, names))
    result = subprocess.run(["sha256sum", "-c", "-"], cwd=tmp_path, input=sums, text=True, capture_output=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": OK") == len(names)
    for c, name in zip(manifest.chunks, names):
        assert (tmp_path / name).stat().st_size == c.size_bytes


def test_recut_is_byte_identical(buffer, ended_trip, tmp_path):
    cut_trip(buffer, ended_trip, tmp_path / "a")
    cut_trip(buffer, ended_trip, tmp_path / "b")
    cut_trip(buffer, ended_trip, tmp_path / "a", max_records_per_chunk=100)  # leaves 21 chunks
    cut_trip(buffer, ended_trip, tmp_path / "a")  # back to 3: stale chunks 4..21 removed
    files_a = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files_a == sorted(p.name for p in (tmp_path / "b").iterdir()) and len(files_a) == 4
    for name in files_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_chunks_recorded_in_buffer(buffer, ended_trip, tmp_path):
    manifest = cut_trip(buffer, ended_trip, tmp_path)
    rows = buffer._db.execute("SELECT no, sha256 FROM chunks WHERE trip_id = ? ORDER BY no", (ended_trip,)).fetchall()
    assert rows == [(c.no, c.sha256) for c in manifest.chunks]


def test_bad_chunk_size_writes_nothing(buffer, ended_trip, tmp_path):
    with pytest.raises(ValueError, match="max_records_per_chunk must be a positive integer"):
        cut_trip(buffer, ended_trip, tmp_path / "x", max_records_per_chunk=0)
    assert not (tmp_path / "x").exists()


def test_seq_hole_is_refused_without_manifest(buffer, ended_trip, tmp_path):
    with sqlite3.connect(buffer.path) as db:
        db.execute("DELETE FROM events WHERE trip_id = ? AND seq = 950", (ended_trip,))
    with pytest.raises(ChunkingError, match="seq 950 is missing"):
        cut_trip(buffer, ended_trip, tmp_path)
    assert not (tmp_path / manifest_filename(ended_trip)).exists()
