"""Chunk validation, and a process pool that runs it away from the server's event loop.

Decoding and validating a near-limit chunk (200k lines) is seconds of pure
Python. In a thread it holds the GIL, so the event loop answered /healthz and
other uploads only between GIL switches (hundreds of ms each). In a worker
process it competes only for a core. This module imports nothing but
``fleet_protocol`` so that spawned workers start quickly.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from fleet_protocol import DtcRecord, decode_chunk

from fleet_assets.ingest.errors import IngestError


def summarise_chunk(body: bytes, trip_id: str, vin: str, max_decompressed_bytes: int) -> dict:
    """Validate every line (raises ``fleet_protocol.ChunkError``) and return what the sidecar keeps of them."""
    records = decode_chunk(body, trip_id=trip_id, vin=vin, max_decompressed_bytes=max_decompressed_bytes)
    return {
        "first_seq": records[0].seq,
        "last_seq": records[-1].seq,
        "records": len(records),
        "dtcs": sum(isinstance(r, DtcRecord) for r in records),
        "days": sorted({r.ts.date().isoformat() for r in records}),
    }


def _ready() -> bool:
    return True


def _exit_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """Worker initializer: leave as soon as the server is gone.

    Idle pool workers wait on their task queue forever, so a server killed
    with SIGKILL (or by the OOM killer) would leave them running. Reparenting
    changes ``getppid()``; polling it is portable and costs nothing.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ValidatorPool:
    """``summarise_chunk`` in up to ``workers`` spawned processes; callable from any thread.

    Spawned, not forked: the server process runs threads, and a fork copies
    their locks in whatever state they are. Workers exit when the server
    process does, however it ends. A worker that dies (e.g. killed for
    memory) breaks the executor; the pool is then replaced and the request
    answered 503, which uploaders retry.
    """

    def __init__(self, workers: int):
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _get(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exit_with_parent, initargs=(os.getpid(),),
                )
            return self._executor

    def warm(self) -> None:
        """Start the workers now rather than on the first upload."""
        executor = self._get()
        for future in [executor.submit(_ready) for _ in range(self.workers)]:
            future.result()

    def __call__(self, body: bytes, trip_id: str, vin: str, max_decompressed_bytes: int) -> dict:
        executor = self._get()
        try:
            return executor.submit(summarise_chunk, body, trip_id, vin, max_decompressed_bytes).result()
        except BrokenProcessPool:
            with self._lock:
                if self._executor is executor:
                    self._executor = None
            executor.shutdown(wait=False, cancel_futures=True)
            raise IngestError(503, "validator_unavailable", "chunk validator restarted; retry the upload") from None

    def shutdown(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
