"""Suite-wide fixtures.

- Provider credentials and base URLs of the developer's shell never reach a test: the provider resources read
  MOTIVE_API_KEY / SAMSARA_API_TOKEN / *_BASE_URL at run time, so a developer with real keys exported would
  otherwise send test traffic to the real APIs. Tests that need them set them with ``monkeypatch``.
- ``free_port`` and ``process_group`` for the tests that start real processes (``make dev``, README commands).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator

import pytest

PROVIDER_ENV_VARS = ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "MOTIVE_BASE_URL", "SAMSARA_BASE_URL")


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch):
    for name in PROVIDER_ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def free_port() -> Callable[[], int]:
    """A loopback port that was free a moment ago (servers under test never take a fixed one); stateless, so one
    picker serves the whole session, session-scoped fixtures included."""

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
