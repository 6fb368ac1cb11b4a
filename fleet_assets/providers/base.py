"""Sync facade over the async provider core, plus registry-driven pagination.

Why a private event-loop thread: Dagster asset bodies are sync, but bounded
concurrent fan-out (Motive: one call per vehicle) is simplest with asyncio.
The client owns one loop thread and one ``httpx.AsyncClient`` for its whole
life, so connections are reused across calls, and it works even when the
caller already runs an event loop. Use it as a context manager (or call
``close()``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ValidationError

from fleet_assets.providers.endpoints import REGISTRY, Endpoint
from fleet_assets.providers.errors import ProviderResponseError
from fleet_assets.providers.http import ProviderHttp
from fleet_assets.providers.models import MotivePagination, SamsaraPagination
from fleet_assets.providers.ratelimit import RateLimiter, Sleeper
from fleet_assets.providers.settings import ProviderSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class _LoopThread:
    def __init__(self, name: str):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


class ProviderClient:
    """Base of ``MotiveClient`` / ``SamsaraClient``: endpoint calls by name, ``fetch_all``, ``to_dataframe``.

    ``limiter`` may be shared between clients of the same provider; ``sleep``
    and ``wall_clock`` are injectable for tests (retry backoff, HTTP-date
    ``Retry-After``).
    """

    provider: ClassVar[str]
    label: ClassVar[str]
    env_var: ClassVar[str]

    def __init__(self, settings: ProviderSettings, *, limiter: RateLimiter | None = None,
                 sleep: Sleeper = asyncio.sleep, wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.settings = settings
        self.limiter = limiter or RateLimiter(settings.rate_limit_per_second, settings.burst)
        self._sleep = sleep
        self._wall_clock = wall_clock
        self._loop: _LoopThread | None = None
        self._http: ProviderHttp | None = None
        self._lock = threading.Lock()
        self.invalid_records = 0

    # -- lifecycle ------------------------------------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            loop, http, self._loop, self._http = self._loop, self._http, None, None
        if loop is not None:
            if http is not None:
                loop.run(http.aclose())
            loop.stop()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine of this client on its loop thread and return the result."""
        with self._lock:
            if self._loop is None:
                self._loop = _LoopThread(f"{self.provider}-client")
            loop = self._loop
        return loop.run(coro)

    @property
    def http(self) -> ProviderHttp:
        """The async core (only valid on the loop thread, i.e. inside coroutines run by ``run``)."""
        if self._http is None:
            self._http = ProviderHttp(self.label, self.env_var, self.settings, self.auth_headers(), self.limiter,
                                      sleep=self._sleep, wall_clock=self._wall_clock)
        return self._http

    @property
    def request_counts(self) -> dict[str, int]:
        return dict(self._http.counts) if self._http else {}

    # -- registry calls -------------------------------------------------------------------------------------
    def endpoints(self) -> list[str]:
        return REGISTRY.list_endpoints(self.provider)

    def endpoint(self, name: str) -> Endpoint:
        return REGISTRY.get(self.provider, name)

    def fetch_all(self, name: str, *, typed: bool = False, **params) -> list:
        """Every item of endpoint ``name`` across all pages: raw dicts, or model instances with ``typed=True``."""
        endpoint = self.endpoint(name)
        items = self.run(self.afetch_all(endpoint, **params))
        return [endpoint.model.model_validate(i) for i in items] if typed else items

    def to_dataframe(self, name: str, **params):
        """``fetch_all`` flattened into a pandas DataFrame (nested objects become dotted columns)."""
        import pandas as pd

        return pd.json_normalize(self.fetch_all(name, **params))

    async def afetch_all(self, endpoint: Endpoint, **params) -> list[dict]:
        items: list[dict] = []
        async for page in self.apages(endpoint, **params):
            items.extend(page)
        return items

    async def apages(self, endpoint: Endpoint, **params) -> AsyncIterator[list[dict]]:
        """Yield each page's validated raw items, following the endpoint's pagination style."""
        path, query = endpoint.build(params)
        label = endpoint.path
        if endpoint.pagination == "none":
            yield self._items(endpoint, await self.http.get_json(path, query, endpoint=label), label)
        elif endpoint.pagination == "page":
            async for page in self._offset_pages(endpoint, path, query, label):
                yield page
        else:
            async for page in self._cursor_pages(endpoint, path, query, label):
                yield page

    async def _offset_pages(self, endpoint: Endpoint, path: str, query: dict, label: str) -> AsyncIterator[list[dict]]:
        page_no, per_page = 1, int(query.pop("per_page", 100))
        while True:
            body = await self.http.get_json(path, {**query, "page_no": page_no, "per_page": per_page}, endpoint=label)
            items = self._items(endpoint, body, label)
            yield items
            pagination = self._model(MotivePagination, body.get("pagination"), label, "pagination")
            pages = math.ceil(pagination.total / pagination.per_page)
            if not items or page_no >= pages:  # past-the-end pages are empty lists
                return
            page_no, per_page = page_no + 1, pagination.per_page

    async def _cursor_pages(self, endpoint: Endpoint, path: str, query: dict, label: str) -> AsyncIterator[list[dict]]:
        after: str | None = None
        seen: set[str] = set()
        while True:
            body = await self.http.get_json(path, {**query, **({"after": after} if after else {})}, endpoint=label)
            yield self._items(endpoint, body, label)  # may be empty while hasNextPage: keep going
            pagination = self._model(SamsaraPagination, body.get("pagination") or {}, label, "pagination")
            if not pagination.hasNextPage:
                return
            if not pagination.endCursor or pagination.endCursor in seen:
                raise ProviderResponseError(
                    f"{self.label} GET {label}: hasNextPage is true but the cursor is "
                    f"{'missing' if not pagination.endCursor else 'repeating'}; refusing to return partial data",
                    provider=self.provider, endpoint=label)
            seen.add(pagination.endCursor)
            after = pagination.endCursor

    def _model(self, model: type[BaseModel], value: Any, label: str, what: str) -> BaseModel:
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise ProviderResponseError(f"{self.label} GET {label}: malformed {what}: {exc.errors()[:3]}",
                                        provider=self.provider, endpoint=label) from None

    def _items(self, endpoint: Endpoint, body: dict, label: str) -> list[dict]:
        """Unwrap the page's items; drop (and count, and log) records that fail their model."""
        raw = body.get(endpoint.items_key)
        if not isinstance(raw, list):
            raise ProviderResponseError(f"{self.label} GET {label}: body has no {endpoint.items_key!r} list",
                                        provider=self.provider, endpoint=label)
        items = []
        for entry in raw:
            item = entry.get(endpoint.inner_key, entry) if endpoint.inner_key and isinstance(entry, dict) else entry
            try:
                endpoint.model.model_validate(item)
            except ValidationError as exc:
                self.invalid_records += 1
                log.warning("%s GET %s: skipping an invalid %s record: %s", self.label, label, endpoint.name,
                            exc.errors()[:2])
                continue
            items.append(item)
        return items
