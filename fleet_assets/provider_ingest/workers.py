"""A day's shards on several cores: worker processes, results in shard order (plain library, no Dagster).

Shards are independent (``transforms.shards``), so the CPU-bound part of a shard
(gunzip, parse, normalize, dedup) runs in a worker process while the caller
appends the finished shards to the day's one staging file in shard order; the
day is still published once, by the caller, and only if every shard succeeded.

Why processes (not threads): the transforms hold the GIL between Arrow calls and
DuckDB/Arrow each start their own thread pools; one single-threaded process per
core keeps every core busy without oversubscription. Why ``spawn``: the caller
may be a threaded Dagster process, which must not be forked; spawned workers
are also plain children, so their CPU time and peak RSS show up in the caller's
``RUSAGE_CHILDREN`` once the pool is closed. Memory: at most ``workers + 1``
shards are in flight (their inputs are read lazily), each worker holds one.

A worker hands its result table over as an Arrow IPC file in a spill directory of
the caller (:func:`hand_over`, :func:`spill_dir`): the caller maps it (zero copy)
instead of unpickling ~100 MB per shard from a pipe, which cost ~1 s of the
caller's CPU on the 5M day (measured, benchmarks/RESULTS.md). The directory is
removed when the day ends, also on failure.

A worker's exception is re-raised by the iterator for that shard (same type and
message as in process); closing the iterator (or an exception in the caller)
cancels what has not started and waits for the workers to exit, so no worker
outlives the call; a worker whose caller was killed exits on its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pyarrow as pa

PARENT_POLL_S = 0.5
T = TypeVar("T")
R = TypeVar("R")


def available_cpus() -> int:
    """CPUs this process may run on (affinity-aware, e.g. a pinned container)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_count(shards: int, setting: int | None = None) -> int:
    """Processes for a day of ``shards`` shards: ``setting`` (``settings.shard_workers()``) or one per CPU,
    never more than the shards; 1 means in process."""
    return max(1, min(setting or available_cpus(), shards))


_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4  # glibc mallopt parameters (malloc.h)


def _init_worker(parent: int) -> None:
    pa.set_cpu_count(1)  # one thread per process: DuckDB and take_rows follow Arrow's count
    pa.set_io_thread_count(1)
    _reuse_freed_memory()
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True, name="exit-with-parent").start()


def _exit_with_parent(parent: int) -> None:
    """A worker waiting for its next shard would wait forever once its parent is gone (SIGKILL, OOM kill):
    the pool's pipes stay open in the worker itself. So it leaves within a second of being orphaned."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(1)


def _reuse_freed_memory() -> None:
    """Keep freed memory in the worker for the next shard instead of returning it to the OS.

    Every shard allocates and frees the same few hundred MB (NDJSON bytes, Arrow columns, numpy keys).
    By default glibc maps each large block afresh and Arrow's allocator returns pages soon after use,
    so every shard faults its memory in again; on a VM whose freed pages go back to the host (virtio
    balloon free-page reporting) a first touch costs ~2 s per GB, measured (benchmarks/RESULTS.md).
    So in a worker (and only there): glibc serves large blocks from its heap and never trims it, and
    Arrow allocates through glibc. The worker's RSS then stays at its peak (one shard's working set)
    until it exits with the pool. Other C libraries (musl): nothing to tune, skipped.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_MAX, 0)
        libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
    except (OSError, AttributeError):
        return
    pa.set_memory_pool(pa.system_memory_pool())


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """``map(fn, items)`` with ``workers`` processes; results in input order.

    ``fn`` and the items must pickle (module-level function; bytes, Arrow tables, plain values).
    ``workers <= 1`` is exactly ``map`` in this process. Close the iterator (``contextlib.closing``)
    when stopping early so the pool is shut down at once rather than at garbage collection.
    """
    if workers <= 1:
        yield from map(fn, items)
        return
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker,
                               initargs=(os.getpid(),))
    pending: deque[Future] = deque()
    try:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) > workers:  # one queued beyond the running ones: no core waits for the caller
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class TableFile:
    """A result table written by a worker as an Arrow IPC file (see :func:`hand_over`)."""

    path: str


def hand_over(table: pa.Table, spill: str | None) -> pa.Table | TableFile:
    """In a worker: ``table`` as a file in the caller's ``spill`` directory; in process (``spill`` None): as is."""
    if spill is None:
        return table
    path = os.path.join(spill, f"{uuid.uuid4().hex}.arrow")
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return TableFile(path)


def taken(result: pa.Table | TableFile) -> pa.Table:
    """In the caller: the table of a :func:`hand_over` result, memory-mapped; the file is unlinked at once (the
    mapping keeps its pages until the table is released)."""
    if not isinstance(result, TableFile):
        return result
    with pa.memory_map(result.path) as source:
        table = pa.ipc.open_file(source).read_all()
    os.unlink(result.path)
    return table


@contextlib.contextmanager
def spill_dir(workers: int) -> Iterator[str | None]:
    """A private temp directory for :func:`hand_over` when ``workers > 1`` (else None), removed on exit."""
    if workers <= 1:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="fleet-shards-") as path:
        yield str(Path(path))
