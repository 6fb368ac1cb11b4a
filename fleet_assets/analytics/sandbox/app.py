"""The embedded backend as a real HTTP server on loopback: a Starlette app, run by uvicorn in a thread.

Routes: ``POST /graphql``, ``GET /stats``, ``GET /records/{kind}``, ``POST /reset``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from fleet_assets.analytics.sandbox.backend import AnalyticsSandbox
from fleet_assets.analytics.sandbox.store import KINDS


def create_app(backend: AnalyticsSandbox):
    """Starlette app: POST /graphql, GET /stats, GET /records/{kind}?limit=N (latest first), POST /reset."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def graphql(request: Request) -> Response:
        result = await run_in_threadpool(backend.handle, await request.body(), request.headers)
        if result.hang:
            await asyncio.sleep(backend.faults.hang_seconds)
        return Response(result.body, status_code=result.status, media_type="application/json")

    async def stats(_request: Request) -> Response:
        return JSONResponse(backend.stats())

    async def records(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in KINDS:
            return JSONResponse({"error": f"unknown kind {kind!r}; one of {sorted(KINDS)}"}, 404)
        try:
            limit = max(1, min(int(request.query_params.get("limit", "20")), 1000))
        except ValueError:
            return JSONResponse({"error": "limit must be an integer"}, 400)
        return JSONResponse(await run_in_threadpool(backend.data.latest, kind, limit))

    async def reset(_request: Request) -> Response:
        backend.reset()
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/graphql", graphql, methods=["POST"]), Route("/stats", stats),
                             Route("/records/{kind}", records), Route("/reset", reset, methods=["POST"])])


@contextmanager
def serve_in_thread(backend: AnalyticsSandbox, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the backend on loopback in a daemon thread; yields the GraphQL URL."""
    import uvicorn

    config = uvicorn.Config(create_app(backend), host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True, name="analytics-sandbox")
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("analytics sandbox server did not start")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}/graphql"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
