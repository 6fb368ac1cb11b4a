"""Resumable trip upload.

Resume: the server is asked what it already holds (``GET /v1/trips/{id}``)
and only missing chunks are sent; chunks are cut deterministically, so a
re-cut after a reboot has the same sha256 and is recognised. Every request
is retried on transient failures with exponential backoff and jitter
(tenacity). Stored chunks of an incomplete trip that are not in the current
manifest (an older cut with other boundaries, a stray chunk) are deleted
first: the local buffer is the truth, and the server would otherwise refuse
the current chunks as conflicting and the trip could never complete. The local trip is marked uploaded only after the server answered
``complete`` to the manifest: until then nothing local is deleted.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet_protocol import TripManifest, chunk_filename, sha256_hex
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_after_delay, wait_exponential_jitter

from edge_collector.upload.client import IngestClient, TransientUploadError, UploadRejected

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 8
    initial_wait_s: float = 0.5
    max_wait_s: float = 30.0
    max_total_s: float = 300.0

    def call(self, fn, *args):
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_total_s),
            wait=wait_exponential_jitter(multiplier=self.initial_wait_s, max=self.max_wait_s, jitter=self.initial_wait_s),
            retry=retry_if_exception_type(TransientUploadError),
            before_sleep=lambda state: log.warning("retrying after: %s", state.outcome.exception()),
            reraise=True,
        )
        return retrying(fn, *args)


@dataclass
class UploadResult:
    trip_id: str
    chunks_sent: int = 0
    chunks_skipped: int = 0
    chunks_deleted: int = 0
    complete: bool = False
    error: str | None = None


def upload_trip(
    client: IngestClient,
    manifest: TripManifest,
    chunk_dir: Path,
    *,
    retry: RetryPolicy = RetryPolicy(),
    progress: Callable[[str], None] = lambda line: None,
) -> UploadResult:
    """Upload one cut trip (chunks in ``chunk_dir`` as written by ``cut_trip``) and complete it."""
    trip_id = manifest.trip_id
    result = UploadResult(trip_id)
    status = retry.call(client.status, trip_id)
    if status is None:
        retry.call(client.create_trip, manifest)
    held = {c["no"]: c["sha256"] for c in (status or {}).get("chunks", [])}
    if status is not None and not status.get("complete"):
        wanted = {chunk.no: chunk.sha256 for chunk in manifest.chunks}
        for no in sorted(no for no, sha in held.items() if wanted.get(no) != sha):
            retry.call(client.delete_chunk, trip_id, no)
            del held[no]
            result.chunks_deleted += 1
            log.warning("trip %s: deleted stale chunk %s on the server (not in the current cut)", trip_id, no)
            progress(f"trip {trip_id}: deleted stale chunk {no} (not in the current cut)")
    for chunk in manifest.chunks:
        if held.get(chunk.no) == chunk.sha256:
            result.chunks_skipped += 1
            continue
        body = (Path(chunk_dir) / chunk_filename(trip_id, chunk.no)).read_bytes()
        if sha256_hex(body) != chunk.sha256:
            raise ValueError(f"local chunk {chunk.no} of trip {trip_id} does not match its manifest sha256")
        retry.call(client.put_chunk, trip_id, chunk.no, body)
        result.chunks_sent += 1
        progress(f"trip {trip_id}: chunk {chunk.no}/{len(manifest.chunks)} ({len(body)} bytes)")
    answer = retry.call(client.complete, manifest)
    result.complete = bool(answer.get("complete"))
    progress(f"trip {trip_id}: complete={result.complete} (sent {result.chunks_sent}, already there {result.chunks_skipped}, "
             f"stale deleted {result.chunks_deleted})")
    return result


def upload_ready_trips(
    buffer,
    client: IngestClient,
    work_dir: Path,
    *,
    cut: Callable | None = None,
    retry: RetryPolicy = RetryPolicy(),
    progress: Callable[[str], None] = lambda line: None,
) -> list[UploadResult]:
    """Upload every ended trip of the buffer that the server has not confirmed yet.

    ``buffer`` is an ``EventBuffer``; ``cut`` defaults to ``chunking.cut_trip``.
    A failed trip is recorded with ``record_upload_attempt`` and left for the
    next run; the others still go.
    """
    if cut is None:
        from edge_collector.chunking import cut_trip as cut
    results = []
    for trip_id in buffer.trips_ready_for_upload():
        out = Path(work_dir) / trip_id
        try:
            manifest = cut(buffer, trip_id, out)
            result = upload_trip(client, manifest, out, retry=retry, progress=progress)
        except (TransientUploadError, UploadRejected, OSError, ValueError) as exc:
            buffer.record_upload_attempt(trip_id, str(exc))
            progress(f"trip {trip_id}: FAILED: {exc}")
            results.append(UploadResult(trip_id, error=str(exc)))
            continue
        buffer.record_upload_attempt(trip_id, None if result.complete else "server did not confirm completion")
        if result.complete:
            buffer.mark_trip_uploaded(trip_id)
            shutil.rmtree(out, ignore_errors=True)  # derived files; the buffer decides about its own data
        results.append(result)
    return results
