"""The ingest server as ``fleet-ingest-server`` runs it: uvicorn on loopback, raw sockets where a client misbehaves.

These cases live below the ASGI app (the HTTP parser, a client vanishing mid-body), so an in-process ASGI
transport cannot show them; the server's own log (its stderr) is part of what is asserted.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fleet_protocol import CHUNK_CONTENT_TYPE, sha256_hex

from fleet_assets.ingest.http_limits import DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_HEADERS

from .conftest import KEY_A, Server, landing_snapshot, new_trip

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory, free_port):
    srv = Server(tmp_path_factory.mktemp("ingest-http"), free_port())
    yield srv
    srv.stop()


@pytest.fixture
def trip(server):
    trip = new_trip(n=3000, per_chunk=3000)
    resp = httpx.post(server.url + "/v1/trips", json=trip.create_body(), headers={"Authorization": f"Bearer {KEY_A}"})
    assert resp.status_code == 201
    return trip


def _put_head(trip, body: bytes, extra: str = "") -> bytes:
    return (f"PUT /v1/trips/{trip.trip_id}/chunks/1 HTTP/1.1\r\nHost: ingest\r\nAuthorization: Bearer {KEY_A}\r\n"
            f"Idempotency-Key: {trip.trip_id}:1\r\nX-Chunk-SHA256: {sha256_hex(body)}\r\n"
            f"Content-Type: {CHUNK_CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n{extra}").encode()


def _send_until_answered(port: int, request: bytes, first: int) -> bytes:
    """Send ``first`` bytes, wait for an answer, and only if none comes send the rest; return the raw response.

    A server that enforces a limit answers after the first part and closes; stopping there (instead of
    pushing bytes it will never read) keeps the kernel from resetting the connection under the response.
    """
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request[:first])
        if not select.select([sock], [], [], 5)[0]:
            try:
                sock.sendall(request[first:])
            except (BrokenPipeError, ConnectionResetError):
                pass
        sock.settimeout(30)
        response = b""
        try:
            while part := sock.recv(65536):
                response += part
                if b"\r\n\r\n" in response and _complete(response):
                    break
        except ConnectionResetError:
            pass
    return response


def _complete(response: bytes) -> bool:
    head, _, body = response.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def _status_and_json(response: bytes) -> tuple[int, dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body)


# ---- item 11: a client that disconnects mid-body ----

def test_client_disconnect_mid_body_logs_one_line_and_lands_nothing(server, trip):
    body = trip.chunks[1]
    assert len(body) > 20_000
    before = landing_snapshot(server.landing)
    log_start = len(server.log())
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_put_head(trip, body) + b"\r\n" + body[: len(body) // 2])
        time.sleep(0.3)  # let the server start streaming the body, then vanish
    log = server.wait_for_log("disconnected")[log_start:]
    lines = [line for line in log.splitlines() if "disconnect" in line.lower()]
    assert len(lines) == 1, log
    assert f"PUT /v1/trips/{trip.trip_id}/chunks/1: client disconnected after" in lines[0]
    assert f"of {len(body)} bytes; nothing stored" in lines[0]
    assert "Traceback" not in log and "ClientDisconnect" not in log and "Exception in ASGI" not in log
    assert landing_snapshot(server.landing) == before
    assert not (server.landing / "trips" / trip.trip_id / "chunks").exists()
    # the server carries on: the same chunk uploads cleanly afterwards
    resp = httpx.put(f"{server.url}/v1/trips/{trip.trip_id}/chunks/1", content=body, headers={
        "Authorization": f"Bearer {KEY_A}", "Idempotency-Key": f"{trip.trip_id}:1",
        "X-Chunk-SHA256": sha256_hex(body), "Content-Type": CHUNK_CONTENT_TYPE})
    assert resp.status_code == 201, resp.text


# ---- item 14: limits on request headers ----

@pytest.mark.parametrize(
    "extra",
    [
        pytest.param("X-Pad: " + "a" * 2_000_000 + "\r\n", id="one-2MB-header"),
        pytest.param("".join(f"X-H{i}: v\r\n" for i in range(10_000)), id="10000-headers"),
    ],
)
def test_oversized_request_headers_are_431(server, trip, extra):
    before = landing_snapshot(server.landing)
    request = _put_head(trip, trip.chunks[1], extra) + b"\r\n" + trip.chunks[1]
    response = _send_until_answered(server.port, request, first=DEFAULT_MAX_HEADER_BYTES + 1024)
    status, body = _status_and_json(response)
    assert status == 431, response[:300]
    assert body == {"error": "headers_too_large",
                    "message": f"request headers exceed the {DEFAULT_MAX_HEADER_BYTES} byte limit"}
    assert landing_snapshot(server.landing) == before
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_too_many_header_fields_are_431(server, trip):
    """Many small fields, well under the byte limit: the field-count limit answers."""
    before = landing_snapshot(server.landing)
    extra = "".join(f"X-H{i}: v\r\n" for i in range(DEFAULT_MAX_HEADERS + 1))
    request = _put_head(trip, trip.chunks[1], extra) + b"\r\n" + trip.chunks[1]
    assert len(_put_head(trip, b"", extra)) < DEFAULT_MAX_HEADER_BYTES
    status, body = _status_and_json(_send_until_answered(server.port, request, first=len(request)))
    assert status == 431
    assert body == {"error": "too_many_headers",
                    "message": f"request has {6 + DEFAULT_MAX_HEADERS + 1} header fields; the limit is {DEFAULT_MAX_HEADERS}"}
    assert landing_snapshot(server.landing) == before


def test_ordinary_requests_are_within_the_limits(server, trip):
    resp = httpx.get(f"{server.url}/v1/trips/{trip.trip_id}", headers={"Authorization": f"Bearer {KEY_A}",
                                                                        "X-Pad": "a" * 4000})
    assert resp.status_code == 200 and resp.json()["trip_id"] == trip.trip_id


# ---- item 15: chunk validation runs off the event loop ----

def _validator_pids(server_pid: int) -> list[int]:
    """Child processes of the server that are multiprocessing workers (not the resource tracker)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == server_pid and b"multiprocessing" in cmdline and b"resource_tracker" not in cmdline:
            pids.append(int(entry))
    return pids


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # zombies have exited
    except OSError:
        return False


def _send_put(port: int, trip, body: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(_put_head(trip, body) + b"\r\n" + body)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict]:
    sock.settimeout(60)
    response = b""
    while not (b"\r\n\r\n" in response and _complete(response)):
        part = sock.recv(65536)
        if not part:
            break
        response += part
    sock.close()
    return _status_and_json(response)


def test_health_answers_while_a_chunk_is_being_validated(server, trip):
    """Validators are frozen (SIGSTOP) so the upload is provably mid-validation while /healthz is asked."""
    validators = _validator_pids(server.proc.pid)
    assert validators, "chunk validation does not run in worker processes"
    for pid in validators:
        os.kill(pid, signal.SIGSTOP)
    try:
        sock = _send_put(server.port, trip, trip.chunks[1])
        answered = 0
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert httpx.get(server.url + "/healthz", timeout=10).json() == {"ok": True}
            answered += 1
        assert not select.select([sock], [], [], 0)[0], "the upload was answered although its validator is frozen"
        assert answered >= 3
    finally:
        for pid in validators:
            os.kill(pid, signal.SIGCONT)
    status, body = _read_response(sock)
    assert status == 201 and body["stored"] is True


def test_validator_killed_mid_chunk_is_503_and_lands_nothing(server, trip):
    before = landing_snapshot(server.landing)
    validators = _validator_pids(server.proc.pid)
    for pid in validators:
        os.kill(pid, signal.SIGSTOP)
    sock = _send_put(server.port, trip, trip.chunks[1])
    time.sleep(0.5)
    for pid in validators:
        os.kill(pid, signal.SIGKILL)
    status, body = _read_response(sock)
    assert (status, body) == (503, {"error": "validator_unavailable",
                                    "message": "chunk validator restarted; retry the upload"})
    assert landing_snapshot(server.landing) == before
    # the pool is replaced: the retry goes through
    status, body = _read_response(_send_put(server.port, trip, trip.chunks[1]))
    assert status == 201, body


def test_validators_exit_when_the_server_is_killed(tmp_path, free_port):
    """A SIGKILLed (e.g. OOM-killed) server must not leave its validator processes running forever."""
    srv = Server(tmp_path, free_port())
    validators = _validator_pids(srv.proc.pid)
    assert validators
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(timeout=10)
    deadline = time.monotonic() + 15
    alive = validators
    while alive and time.monotonic() < deadline:
        time.sleep(0.2)
        alive = [pid for pid in validators if _running(pid)]
    for pid in alive:  # clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert alive == [], "validator processes outlived the server"
