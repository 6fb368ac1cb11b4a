"""The embedded backend as an in-process httpx transport: real HTTP semantics for gql, no socket.

Also what an upload without an endpoint uses (``embedded_sandbox``): the
backend over the SQLite store in the data dir, the one ``make dev`` serves.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

from fleet_assets.analytics.sandbox.backend import AnalyticsSandbox

EMBEDDED_URL = "http://sandbox.invalid/graphql"  # what gql is given; no request leaves the process


class AnalyticsSandboxTransport(httpx.BaseTransport):
    """In-process httpx transport over ``AnalyticsSandbox``. Timeouts raise at once.

    ``identity_url`` is what the upload ledger derives this backend's identity from: the store's own id,
    so a new or reset store is a new backend.
    """

    def __init__(self, backend: AnalyticsSandbox):
        self.backend = backend
        self.identity_url = f"sandbox://{backend.backend_id}"

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.backend.handle(request.read(), request.headers)
        if response.hang:
            raise httpx.ReadTimeout("sandbox injected timeout", request=request)
        return httpx.Response(response.status, content=response.body,
                              headers={"content-type": "application/json"}, request=request)


@contextmanager
def embedded_sandbox(store: Path | None) -> Iterator[tuple[AnalyticsSandboxTransport, str]]:
    """The embedded backend over ``store`` (a SQLite file; None = this process's memory): (transport, URL).

    Used by every upload without an endpoint (asset and CLI), so both reach the same backend as `make dev`'s
    served sandbox.
    """
    sandbox = AnalyticsSandbox(store_path=str(store) if store is not None else None)
    try:
        yield AnalyticsSandboxTransport(sandbox), EMBEDDED_URL
    finally:
        sandbox.close()
