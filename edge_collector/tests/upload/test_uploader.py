"""Uploader against a real ingest server on loopback: resume, retries across a killed server, rejections."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from fleet_protocol import decode_chunk, encode_chunk

from edge_collector.upload import IngestClient, RetryPolicy, UploadRejected, export_trip, upload_trip

KEY = "device-key-for-tests-0001"
FAST = RetryPolicy(attempts=40, initial_wait_s=0.05, max_wait_s=0.3, max_total_s=30)


def _landed_seqs(server, manifest) -> list[int]:
    seqs = []
    for chunk in manifest.chunks:
        body = (server.landing / "trips" / manifest.trip_id / "chunks" / f"{chunk.no}.ndjson.gz").read_bytes()
        seqs += [r.seq for r in decode_chunk(body, trip_id=manifest.trip_id)]
    return seqs


def _markers(server) -> list:
    return sorted(p.name for p in (server.landing / "completed").glob("0*.json"))


def test_upload_then_rerun_is_a_noop(server, cut):
    manifest, chunk_dir = cut(n_events=60, per_chunk=25)
    lines = []
    with IngestClient(server.url, KEY) as client:
        first = upload_trip(client, manifest, chunk_dir, retry=FAST, progress=lines.append)
        second = upload_trip(client, manifest, chunk_dir, retry=FAST)
    assert (first.complete, first.chunks_sent, first.chunks_skipped) == (True, 3, 0)
    assert (second.complete, second.chunks_sent, second.chunks_skipped) == (True, 0, 3)
    assert any("chunk 3/3" in line for line in lines)
    assert _landed_seqs(server, manifest) == list(range(1, 61))
    assert len(_markers(server)) == 1


def test_resume_sends_only_missing_chunks(server, cut):
    manifest, chunk_dir = cut(n_events=100, per_chunk=25)
    with IngestClient(server.url, KEY) as client:
        client.create_trip(manifest)
        client.put_chunk(manifest.trip_id, 1, (chunk_dir / f"{manifest.trip_id}-1.ndjson.gz").read_bytes())
        client.put_chunk(manifest.trip_id, 3, (chunk_dir / f"{manifest.trip_id}-3.ndjson.gz").read_bytes())
        result = upload_trip(client, manifest, chunk_dir, retry=FAST)
    assert (result.complete, result.chunks_sent, result.chunks_skipped) == (True, 2, 2)
    assert _landed_seqs(server, manifest) == list(range(1, 101))


def test_server_killed_between_chunks_upload_resumes(server, cut):
    manifest, chunk_dir = cut(n_events=200, per_chunk=40)
    restarted = threading.Event()

    def kill_after_chunk_two(line: str) -> None:
        if "chunk 2/" in line and not restarted.is_set():
            server.kill()

            def restart():
                time.sleep(0.3)  # let the uploader hit connection refused and back off
                server.start()
                restarted.set()

            threading.Thread(target=restart, daemon=True).start()

    with IngestClient(server.url, KEY) as client:
        result = upload_trip(client, manifest, chunk_dir, retry=FAST, progress=kill_after_chunk_two)
    # The uploader may finish as soon as the new server accepts connections, before the restart thread's own
    # health probe returns and sets the flag: wait for it rather than race it.
    assert restarted.wait(timeout=30) and result.complete
    seqs = _landed_seqs(server, manifest)
    assert seqs == list(range(1, 201)) and len(set(seqs)) == len(seqs)
    assert len(_markers(server)) == 1


def test_server_killed_mid_chunk_leaves_nothing_and_upload_completes(server, cut):
    manifest, chunk_dir = cut(n_events=3000, per_chunk=1500, pad=50)
    body = (chunk_dir / f"{manifest.trip_id}-1.ndjson.gz").read_bytes()
    with IngestClient(server.url, KEY) as client:
        client.create_trip(manifest)
    # A real HTTP request whose body stops halfway, then the server dies with it in flight.
    head = (f"PUT /v1/trips/{manifest.trip_id}/chunks/1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"
            f"Idempotency-Key: {manifest.trip_id}:1\r\nX-Chunk-SHA256: {manifest.chunks[0].sha256}\r\n"
            f"Content-Type: application/x-ndjson+gzip\r\nContent-Length: {len(body)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(head + body[: len(body) // 2])
        time.sleep(0.2)
        server.kill()
    chunk_files = list((server.landing / "trips" / manifest.trip_id).rglob("*ndjson*"))
    assert chunk_files == []  # no partial chunk, no temp file
    server.start()
    with IngestClient(server.url, KEY) as client:
        result = upload_trip(client, manifest, chunk_dir, retry=FAST)
    assert result.complete and result.chunks_sent == 2
    seqs = _landed_seqs(server, manifest)
    assert seqs == list(range(1, 3001))


def test_rejection_is_not_retried_and_nothing_completes(server, cut):
    manifest, chunk_dir = cut()
    started = time.monotonic()
    with IngestClient(server.url, "wrong-key") as client, pytest.raises(UploadRejected, match="401 unauthorized"):
        upload_trip(client, manifest, chunk_dir, retry=RetryPolicy(attempts=5, initial_wait_s=1.0))
    assert time.monotonic() - started < 1.0  # a 4xx is final: no backoff sleeps
    assert not (server.landing / "completed").exists()


def test_corrupted_local_chunk_is_refused_before_sending(server, cut):
    manifest, chunk_dir = cut()
    path = chunk_dir / f"{manifest.trip_id}-2.ndjson.gz"
    path.write_bytes(path.read_bytes()[:-3])
    with IngestClient(server.url, KEY) as client, pytest.raises(ValueError, match="does not match its manifest sha256"):
        upload_trip(client, manifest, chunk_dir, retry=FAST)
    assert not (server.landing / "trips" / manifest.trip_id / "chunks" / "2.ndjson.gz").exists()
    assert not (server.landing / "completed").exists()


def test_export_layout(tmp_path, cut):
    manifest, chunk_dir = cut(n_events=60, per_chunk=25)
    folder = export_trip(manifest, chunk_dir, tmp_path / "usb")
    assert folder == tmp_path / "usb" / "trips" / manifest.trip_id
    assert sorted(p.name for p in (folder / "chunks").iterdir()) == ["1.ndjson.gz", "2.ndjson.gz", "3.ndjson.gz"]
    assert (folder / "manifest.json").exists()
    (chunk_dir / f"{manifest.trip_id}-1.ndjson.gz").write_bytes(b"tampered")
    with pytest.raises(ValueError, match="chunk 1"):
        export_trip(manifest, chunk_dir, tmp_path / "usb2")
    assert not (tmp_path / "usb2" / "trips" / manifest.trip_id / "manifest.json").exists()


@pytest.mark.parametrize("old_per_chunk", [20, 15])
def test_chunks_of_an_older_cut_are_deleted_and_the_trip_completes(server, cut, old_per_chunk):
    """The server holds chunks of an earlier cut (other boundaries; with 15, an extra chunk 4 the new manifest
    does not list). The uploader deletes what does not match its manifest, re-sends and completes."""
    manifest, chunk_dir = cut(n_events=60, per_chunk=25)
    events = [r for c in manifest.chunks
              for r in decode_chunk((chunk_dir / f"{manifest.trip_id}-{c.no}.ndjson.gz").read_bytes())]
    old = {no: encode_chunk(events[i:i + old_per_chunk])
           for no, i in enumerate(range(0, len(events), old_per_chunk), start=1)}
    lines = []
    with IngestClient(server.url, KEY) as client:
        client.create_trip(manifest)
        for no, body in old.items():
            if no != 3:  # the old cut was only partly uploaded
                assert client.put_chunk(manifest.trip_id, no, body)
        result = upload_trip(client, manifest, chunk_dir, retry=FAST, progress=lines.append)
    assert result.complete and result.chunks_sent == 3
    assert result.chunks_deleted == len(old) - 1
    assert any("deleted stale chunk 2" in line for line in lines)
    assert _landed_seqs(server, manifest) == list(range(1, 61))
    stored = sorted(p.name for p in (server.landing / "trips" / manifest.trip_id / "chunks").glob("*.ndjson.gz"))
    assert stored == ["1.ndjson.gz", "2.ndjson.gz", "3.ndjson.gz"]
    assert len(_markers(server)) == 1
