"""Small unified-schema tables for storage tests; deployed-mode services of this test area."""

import http.client
import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import pyarrow as pa
import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA


def telemetry_rows(day: str, n: int, provider: str = "samsara") -> pa.Table:
    t0 = datetime.fromisoformat(day).replace(tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {"provider": provider, "provider_vehicle_id": f"v{i % 3}", "vin": f"VIN{i % 3:014d}", "fleet_number": f"T{i % 3}",
             "timestamp": t0 + timedelta(seconds=i), "latitude": 40.0 + i * 1e-4, "longitude": -90.0, "speed_mph": float(i % 70),
             "heading_degrees": 90.0, "engine_state": "On", "driver_id": None, "driver_name": None,
             "location_description": "Somewhere", "odometer": 1000.0 + i}
            for i in range(n)
        ],
        schema=TELEMETRY_SCHEMA,
    )


@pytest.fixture
def make_rows():
    return telemetry_rows


# --- deployed-mode services of this test area (the root conftest provides the plain S3 server) -------------


@dataclass(frozen=True)
class AuthS3:
    endpoint: str
    bucket: str
    access_key: str
    secret_key: str

    def client(self, secret: str | None = None):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=self.access_key,
                            aws_secret_access_key=secret or self.secret_key)


@pytest.fixture(scope="session")
def s3_auth_server(free_port, tmp_path_factory, service_starters) -> Iterator[AuthS3]:
    """A second moto_server that CHECKS credentials (IAM): the first 4 requests (user, key, policy, bucket)
    are unauthenticated set-up, every later one must be signed by a real key of that user."""
    import boto3

    log = tmp_path_factory.mktemp("moto-auth") / "moto.log"
    with service_starters.s3(free_port(), log=log, env={"INITIAL_NO_AUTH_ACTION_COUNT": "4"}) as endpoint:
        anon = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
        iam = boto3.client("iam", **anon)
        iam.create_user(UserName="fleet")
        key = iam.create_access_key(UserName="fleet")["AccessKey"]
        iam.put_user_policy(UserName="fleet", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        boto3.client("s3", **anon).create_bucket(Bucket="fleet-auth")
        yield AuthS3(endpoint, "fleet-auth", key["AccessKeyId"], key["SecretAccessKey"])


class _StripConditionalHandler(http.server.BaseHTTPRequestHandler):
    """Forwards every request to the upstream S3 server without ``If-None-Match`` (an S3 clone that ignores it)."""

    upstream: tuple[str, int]
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("if-none-match", "connection")}
        conn = http.client.HTTPConnection(*self.upstream, timeout=30)
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture(scope="session")
def no_conditional_s3(s3_server) -> Iterator[str]:
    """Endpoint of a loopback proxy to the session's S3 server that drops ``If-None-Match`` (old Ceph, S3 clones)."""
    upstream = urlparse(s3_server)
    handler = type("Handler", (_StripConditionalHandler,), {"upstream": (upstream.hostname, upstream.port)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def s3_layout(s3_storage_url, tmp_path):
    """A deployed-mode layout on a fresh bucket (host-local files under ``tmp_path/host``)."""
    from fleet_assets.storage.layout import DataLayout

    return DataLayout(tmp_path / "host", storage_url=s3_storage_url)


@pytest.fixture
def layout(storage_url, tmp_path):
    """The layout of each backend in turn (embedded directory, then S3), host-local files under ``tmp_path/host``."""
    from fleet_assets.storage.layout import DataLayout

    return DataLayout(tmp_path / "host", storage_url=storage_url)

