"""In-process httpx transport over the sandbox backend (sync and async, no socket).

Delays are real sleeps (``time.sleep`` / ``asyncio.sleep``) so latency and
rate limits behave as on the wire; a delay longer than the request's read
timeout sleeps for the timeout and raises ``httpx.ReadTimeout``, exactly what
a client sees from a stalled server.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from fleet_assets.sandbox.config import SandboxConfig
from fleet_assets.sandbox.handler import SandboxBackend, SandboxResponse


class ProviderSandboxTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    def __init__(self, backend: SandboxBackend | SandboxConfig | None = None) -> None:
        self.backend = backend if isinstance(backend, SandboxBackend) else SandboxBackend(backend)

    def _call(self, request: httpx.Request) -> tuple[SandboxResponse, float | None]:
        query = dict(request.url.params)
        response = self.backend.handle(request.method, request.url.path, query, request.headers)
        read_timeout = (request.extensions.get("timeout") or {}).get("read")
        return response, read_timeout

    @staticmethod
    def _build(request: httpx.Request, r: SandboxResponse) -> httpx.Response:
        return httpx.Response(r.status, headers=r.headers, content=r.body, request=request)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        r, timeout = self._call(request)
        if timeout is not None and r.delay_s > timeout:
            time.sleep(timeout)
            raise httpx.ReadTimeout("sandbox: no response within the read timeout", request=request)
        if r.delay_s > 0:
            time.sleep(r.delay_s)
        return self._build(request, r)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        r, timeout = self._call(request)
        if timeout is not None and r.delay_s > timeout:
            await asyncio.sleep(timeout)
            raise httpx.ReadTimeout("sandbox: no response within the read timeout", request=request)
        if r.delay_s > 0:
            await asyncio.sleep(r.delay_s)
        return self._build(request, r)
