"""``fleet-ingest-server`` in deployed mode: keys in Postgres, and bad settings refused in one line, nothing written."""

from __future__ import annotations

import subprocess
import sys

import boto3
import psycopg
import pytest

from fleet_assets.ingest.cli import main as cli_main
from fleet_assets.ingest.keys import KeyRing, hash_key
from fleet_assets.ingest.state import PostgresState

from .conftest import VIN_A

# If a check ever let bad settings through, uvicorn would fail to bind this host (exit 3) instead of serving forever.
NO_SERVE = ["--host", "256.0.0.1", "--validate-workers", "0"]


def test_add_key_with_state_url_stores_only_the_digest_in_postgres(tmp_path, state_url, monkeypatch, capsys):
    monkeypatch.setenv("FLEET_STATE_URL", state_url)
    assert cli_main(["--data-dir", str(tmp_path / "d"), "add-key", "--device", "van-1", "--vin", VIN_A]) == 0
    key = capsys.readouterr().out.strip()
    state = PostgresState(state_url)
    try:
        assert KeyRing.from_state(state).authenticate(f"Bearer {key}").name == "van-1"
        assert state.device_by_hash(hash_key(key)) == ("van-1", [VIN_A])
    finally:
        state.close()
    with psycopg.connect(state_url) as conn:
        dumped = str(conn.execute("SELECT * FROM ingest_devices").fetchall())
    assert key not in dumped and hash_key(key) in dumped
    assert not (tmp_path / "d").exists()  # nothing local


def test_keys_file_and_state_url_together_are_refused(tmp_path, state_url, monkeypatch, capsys):
    monkeypatch.setenv("FLEET_STATE_URL", state_url)
    rc = cli_main(["--data-dir", str(tmp_path / "d"), "--keys-file", str(tmp_path / "k.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "--keys-file is not used when FLEET_STATE_URL is set" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "k.json").exists() and not (tmp_path / "d").exists()


def _bucket_keys(endpoint: str, bucket: str) -> list[str]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    return [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def _ingest_tables(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]


@pytest.mark.parametrize("case", ["s3_unreachable", "no_such_bucket", "postgres_unreachable", "not_a_postgres_url"])
def test_bad_deployed_settings_one_line_and_nothing_written(case, tmp_path, s3_storage_url, s3_env, state_url,
                                                             free_port, monkeypatch, capsys):
    bucket = s3_storage_url.split("/")[2]
    storage, state = s3_storage_url, state_url
    if case == "s3_unreachable":
        monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
        expected = "FLEET_STORAGE_URL"
    elif case == "no_such_bucket":
        storage, expected = "s3://fleet-no-such-bucket/data", "bucket 'fleet-no-such-bucket' does not exist"
    elif case == "postgres_unreachable":
        state, expected = f"postgresql://fleet:secret@127.0.0.1:{free_port()}/fleet", "cannot connect to PostgreSQL"
    else:
        state, expected = "mysql://fleet@db/fleet", "FLEET_STATE_URL must be a postgresql:// URL"
    monkeypatch.setenv("FLEET_STORAGE_URL", storage)
    monkeypatch.setenv("FLEET_STATE_URL", state)
    data = tmp_path / "scratch"
    rc = cli_main(["--data-dir", str(data), "--no-fsync", *NO_SERVE])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and expected in err and len(err.splitlines()) == 1, err
    assert "secret" not in err and "Traceback" not in err
    assert not data.exists()
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_env)
    assert _bucket_keys(s3_env, bucket) == []  # the conditional-write probe is gone too
    assert _ingest_tables(state_url) == []  # the S3 check runs first; nothing in Postgres either


def test_bad_setting_from_the_real_command_has_no_traceback(tmp_path, free_port, monkeypatch):
    monkeypatch.setenv("FLEET_STORAGE_URL", "s3://fleet-x/data")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    proc = subprocess.run([sys.executable, "-m", "fleet_assets.ingest.cli", "--data-dir", str(tmp_path / "d"),
                           "--keys-file", str(tmp_path / "k.json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "FLEET_STORAGE_URL" in proc.stderr
    assert not (tmp_path / "d").exists()


@pytest.fixture
def s3_ignoring_conditions(s3_env):
    """A real S3 API (moto_server) behind a loopback proxy that drops ``If-None-Match``, as an S3-compatible
    store without conditional writes does (older MinIO/Ceph releases)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import httpx

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("if-none-match", "host", "expect")}
            resp = httpx.request(self.command, s3_env + self.path, headers=headers, content=body)
            self.send_response(resp.status_code)
            for key, value in resp.headers.items():
                if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(resp.content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.content)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_store_without_conditional_writes_is_refused_at_start_up(tmp_path, s3_storage_url, s3_env, state_url,
                                                                  s3_ignoring_conditions, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_ignoring_conditions)
    monkeypatch.setenv("FLEET_STORAGE_URL", s3_storage_url)
    monkeypatch.setenv("FLEET_STATE_URL", state_url)
    rc = cli_main(["--data-dir", str(tmp_path / "scratch"), *NO_SERVE])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "does not enforce conditional writes" in err and len(err.splitlines()) == 1, err
    assert _bucket_keys(s3_env, s3_storage_url.split("/")[2]) == [] and _ingest_tables(state_url) == []
    assert not (tmp_path / "scratch").exists()


def test_backends_down_mid_run_answer_503_and_store_nothing(tmp_path, s3_storage_url, s3_env, state_url, free_port,
                                                            keyring, make_trip, monkeypatch):
    """S3 or Postgres lost while serving: a retryable 503 naming the setting (no password), nothing stored."""
    from fleet_assets.ingest.app import create_app
    from fleet_assets.ingest.landing import LandingZone
    from fleet_assets.storage.layout import DataLayout
    from fleet_assets.storage.objects import open_store

    from .conftest import AsgiClient, zone_snapshot

    zone = LandingZone.for_layout(DataLayout(tmp_path / "s", storage_url=s3_storage_url, state_url=state_url))
    trip = make_trip(n=40, per_chunk=20)
    assert AsgiClient(create_app(zone, keyring)).create(trip).status_code == 201
    assert AsgiClient(create_app(zone, keyring)).put(trip.trip_id, 1, trip.chunks[1]).status_code == 201
    before = zone_snapshot(zone)

    no_state = PostgresState(f"postgresql://fleet:secret@127.0.0.1:{free_port()}/fleet")
    app = create_app(LandingZone(store=zone.store, prefix="landing", state=no_state, lock_dir=tmp_path / "l"), keyring)
    for resp in (AsgiClient(app).put(trip.trip_id, 2, trip.chunks[2]),
                 AsgiClient(app).complete(trip.trip_id, trip.manifest_json())):
        assert resp.status_code == 503 and resp.json()["error"] == "state_unavailable", resp.text
        assert "FLEET_STATE_URL" in resp.json()["message"] and "secret" not in resp.text

    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{free_port()}")
    no_s3 = LandingZone(store=open_store(s3_storage_url), prefix="landing", state=zone.state, lock_dir=tmp_path / "l")
    resp = AsgiClient(create_app(no_s3, keyring)).put(trip.trip_id, 2, trip.chunks[2])
    assert resp.status_code == 503 and resp.json()["error"] == "storage_unavailable", resp.text
    assert "FLEET_STORAGE_URL" in resp.json()["message"]
    assert zone_snapshot(zone) == before and zone.read_completions(0) == []
    zone.close()
