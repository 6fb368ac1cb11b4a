"""The sandbox as a real HTTP server: a Starlette app, run by uvicorn.

``serve_in_thread(config)`` binds 127.0.0.1 on a free port, serves in a
daemon thread and yields the base URL (both providers share it: their paths
do not overlap); the backend is reachable as ``url.backend`` for request
counts. ``GET /_sandbox/stats`` tells the same from outside (``fleet-sandbox
serve`` too): requests, 429s and the peak of requests in flight at once per
provider and route, counted from arrival until the response is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleet_assets.sandbox.config import SandboxConfig
from fleet_assets.sandbox.handler import SandboxBackend

STATS_PATH = "/_sandbox/stats"  # requests, 429s and peak concurrency per provider and route (GET, JSON)


def create_app(backend: SandboxBackend | SandboxConfig | None = None) -> Starlette:
    backend = backend if isinstance(backend, SandboxBackend) else SandboxBackend(backend)

    async def endpoint(request: Request) -> Response:
        with backend.serving(request.url.path) as over_cap:
            r = backend.handle(request.method, request.url.path, dict(request.query_params), dict(request.headers),
                               over_cap=over_cap)
            if r.delay_s > 0:
                await asyncio.sleep(r.delay_s)
        return Response(r.body, status_code=r.status, headers=r.headers)

    async def stats(_request: Request) -> Response:
        return JSONResponse(backend.stats())

    app = Starlette(routes=[Route(STATS_PATH, stats),
                            Route("/{path:path}", endpoint, methods=["GET", "POST", "PUT", "DELETE"])])
    app.state.backend = backend
    return app


class SandboxURL(str):
    """The base URL, carrying the backend for introspection."""

    backend: SandboxBackend


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    return sock


@contextlib.contextmanager
def serve_in_thread(config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0,
                    ssl_certfile: str | None = None, ssl_keyfile: str | None = None) -> Iterator[SandboxURL]:
    """Run the sandbox on loopback for the duration of the ``with`` block (HTTPS when given a cert + key)."""
    backend = SandboxBackend(config)
    sock = bind_socket(host, port)
    server = uvicorn.Server(uvicorn.Config(create_app(backend), log_level="warning", access_log=False,
                                           lifespan="off", backlog=2048, timeout_keep_alive=30,
                                           ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="fleet-sandbox", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("fleet sandbox server did not start")
        time.sleep(0.01)
    scheme = "https" if ssl_certfile else "http"
    url = SandboxURL(f"{scheme}://{host}:{sock.getsockname()[1]}")
    url.backend = backend
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
