"""Fixtures shared by the top-level tests that start real processes (``make dev``, README commands)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest


@pytest.fixture
def free_port() -> Callable[[], int]:
    """A loopback port that was free a moment ago (servers under test never take a fixed one)."""

    def pick() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    return pick


@pytest.fixture
def process_group() -> Iterator[Callable[..., subprocess.Popen]]:
    """``start(argv, **popen_kwargs)`` in a new session; at teardown each group still alive gets SIGTERM, then SIGKILL.

    A whole group, because the commands fork (dagster dev → webserver, daemon, code server).
    """
    started: list[subprocess.Popen] = []

    def start(argv, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
