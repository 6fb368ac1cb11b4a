"""Suite-wide fixtures.

- Provider credentials and base URLs of the developer's shell never reach a test: the provider resources read
  MOTIVE_API_KEY / SAMSARA_API_TOKEN / *_BASE_URL at run time, so a developer with real keys exported would
  otherwise send test traffic to the real APIs. Tests that need them set them with ``monkeypatch``.
- ``free_port`` and ``process_group`` for the tests that start real processes (``make dev``, README commands).
- Deployed mode's real services, started by the tests (never by hand) once per session on a free loopback
  port: ``postgres_server`` (the ``pgserver`` wheel, PostgreSQL 16) and ``s3_server`` (``moto_server``, a
  real S3 REST API). ``state_url`` is a fresh database per test, ``s3_storage_url`` a fresh bucket per test
  (the standard AWS variables point at the server), and ``storage_url`` is parametrized over the embedded
  store and S3, so the two cannot drift.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PROVIDER_ENV_VARS = ("MOTIVE_API_KEY", "SAMSARA_API_TOKEN", "MOTIVE_BASE_URL", "SAMSARA_BASE_URL")
DEPLOYED_ENV_VARS = (
    "FLEET_STORAGE_URL", "FLEET_STATE_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
)

def _load_local_services():
    """``scripts/local_services.py``: the one way deployed mode's services are started (by hand and here)."""
    spec = importlib.util.spec_from_file_location("local_services", Path(__file__).parents[1] / "scripts" / "local_services.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


local_services = _load_local_services()
S3_TEST_CREDENTIALS = local_services.TEST_CREDENTIALS


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch):
    for name in PROVIDER_ENV_VARS + DEPLOYED_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)  # never the developer's ~/.aws profiles
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata probes


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
        stop_group(proc)


def stop_group(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM the process group of ``proc`` (started with ``start_new_session``), SIGKILL it after ``timeout``."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


@pytest.fixture(scope="session")
def service_starters():
    """``scripts/local_services.py`` for test areas that start a variant of a service (e.g. S3 with auth on)."""
    return local_services


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A real PostgreSQL 16 (the ``pgserver`` wheel) for the session; yields its admin URI (unix socket).

    Its data lives in a private temp dir, not pytest's ``tmp_path`` tree: another pytest session on the
    machine prunes and re-permissions that tree, which would pull the files from under a running server.
    """
    data = Path(tempfile.mkdtemp(prefix="fleet-pg-"))
    try:
        with local_services.postgres(data) as uri:
            yield uri
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def state_url(postgres_server) -> Iterator[str]:
    """A fresh, empty database on the session's server: tests never see each other's state."""
    import psycopg

    name = f"fleet_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.replace("/postgres?", f"/{name}?", 1)
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_server(free_port, tmp_path_factory) -> Iterator[str]:
    """``moto_server`` (a real S3 REST API over HTTP) on a free loopback port; yields its endpoint URL."""
    with local_services.s3(free_port(), log=tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture
def s3_env(s3_server, monkeypatch) -> str:
    """Point the standard AWS variables at the session's S3 server (as an operator would); returns the endpoint."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_server)
    for name, value in S3_TEST_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def s3_storage_url(s3_env) -> str:
    """``s3://<fresh bucket>/data`` on the session's S3 server."""
    bucket = f"fleet-{uuid.uuid4().hex[:12]}"
    local_services.create_bucket(s3_env, bucket)
    return f"s3://{bucket}/data"


@pytest.fixture(params=["embedded", "s3"])
def storage_url(request, tmp_path) -> str:
    """The storage URL of each backend in turn: the embedded local directory, then a fresh S3 bucket."""
    if request.param == "embedded":
        return (tmp_path / "store").as_uri()
    return request.getfixturevalue("s3_storage_url")
