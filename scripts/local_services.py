"""Deployed mode's two services on loopback, for trying it by hand and for the tests.

Starts a real PostgreSQL 16 (the ``pgserver`` wheel) and a real S3 REST API
(``moto_server``) on free loopback ports, creates a bucket, prints the
``export`` lines that point the platform at them, and stops both on Ctrl-C.
The test fixtures (``fleet_assets_tests/conftest.py``) start the services with
the same two functions, so what an operator tries is what the tests use.
Test-only tools: neither server is durable or secured; production points
``FLEET_STATE_URL``/``FLEET_STORAGE_URL`` at real services.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

TEST_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "fleet-test", "AWS_SECRET_ACCESS_KEY": "fleet-test-secret",
                    "AWS_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def postgres(data_dir: Path) -> Iterator[str]:
    """A PostgreSQL server with its data in ``data_dir``; yields its admin URI (unix socket)."""
    import warnings

    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")  # pgserver's platformdirs lookup, harmless
    import pgserver

    server = pgserver.get_server(data_dir, cleanup_mode="stop")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


@contextlib.contextmanager
def s3(port: int | None = None, log: Path | None = None, env: dict[str, str] | None = None) -> Iterator[str]:
    """``moto_server`` on 127.0.0.1:``port`` (a free one by default) with extra ``env`` (e.g. moto's
    ``INITIAL_NO_AUTH_ACTION_COUNT`` to check credentials); yields its endpoint URL."""
    port = port or free_port()
    moto = Path(sys.executable).with_name("moto_server")
    out = open(log, "wb") if log else subprocess.DEVNULL
    proc = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})}, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{endpoint}/moto-api/", timeout=1)
                break
            except httpx.HTTPError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not start on port {port}") from None
                time.sleep(0.1)
        yield endpoint
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log:
            out.close()


def create_bucket(endpoint: str, bucket: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id=TEST_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=TEST_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
    client.create_bucket(Bucket=bucket)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Start PostgreSQL (pgserver) and an S3 API (moto_server) on loopback for deployed mode; "
                    "prints the variables to export, runs until Ctrl-C. Test services, not for production.")
    parser.add_argument("--s3-port", type=int, default=None, help="S3 port (default: a free one)")
    parser.add_argument("--bucket", default="fleet", help="bucket to create (default: fleet)")
    parser.add_argument("--pg-dir", type=Path, default=None, help="PostgreSQL data directory (default: a temp dir)")
    args = parser.parse_args(argv)
    pg_dir = args.pg_dir or Path(tempfile.mkdtemp(prefix="fleet-pg-"))
    with postgres(pg_dir) as pg_url, s3(args.s3_port) as endpoint:
        create_bucket(endpoint, args.bucket)
        exports = {"FLEET_STATE_URL": pg_url, "FLEET_STORAGE_URL": f"s3://{args.bucket}/data",
                   "AWS_ENDPOINT_URL_S3": endpoint, **TEST_CREDENTIALS}
        for name, value in exports.items():
            print(f"export {name}='{value}'")
        print("# services running; Ctrl-C stops them", flush=True)
        signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM stops the services like Ctrl-C
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
