"""Provider-agnostic client core: a sync facade over asyncio + httpx.AsyncClient.

Dagster asset bodies are synchronous, but per-vehicle fan-out wants bounded
concurrency; each public call therefore runs one event loop (``asyncio.run``,
or a worker thread when a loop is already running) around a fresh
:class:`ProviderSession`. The rate limiter belongs to the client, so every
call made through one client (and every client given the same limiter)
shares one budget.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import httpx

from fleet_assets.providers.endpoints import REGISTRY, Endpoint, EndpointRegistry
from fleet_assets.providers.errors import ProviderConfigError
from fleet_assets.providers.http import ProviderSession
from fleet_assets.providers.paging import collect
from fleet_assets.providers.ratelimit import RateLimiter
from fleet_assets.providers.ratelimit import endpoint_limiters as endpoint_limiters_for
from fleet_assets.providers.client_settings import ClientSettings

T = TypeVar("T")
Emit = Callable[[Any], Awaitable[None]]
STREAM_BUFFER = 2  # pages waiting for the consumer of a stream, at most (back-pressure beyond)


class StreamClosed(Exception):
    """The consumer of :meth:`ProviderClient.stream` stopped early; the fetch stops at its next page."""


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


def public_url(url: str) -> str:
    """``url`` without user:password (a proxy URL may embed them): safe for logs and manifests."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


class ProviderClient:
    """Shared machinery; subclasses set ``provider`` and the auth headers."""

    provider = ""
    default_base_url = ""
    credential_env_var = ""
    base_url_env_var = ""
    default_rate_limit_per_s = 10.0  # provider-wide budget when the settings leave it unset

    @classmethod
    def from_credential(cls, credential: str, base_url: str | None = None, **settings):
        """A client for ``credential`` (an API key or token); ``transport=`` may be passed through ``settings``."""
        transport = settings.pop("transport", None)
        return cls(ClientSettings(provider=cls.provider, base_url=base_url or cls.default_base_url,
                                  credential=credential, credential_env_var=cls.credential_env_var, **settings),
                   transport=transport)

    def __init__(self, settings: ClientSettings, *, transport: httpx.AsyncBaseTransport | None = None,
                 limiter: RateLimiter | None = None, registry: EndpointRegistry = REGISTRY,
                 endpoint_limiters: dict[str, RateLimiter] | None = None) -> None:
        self.settings = settings
        self.transport = transport
        self.limiter = limiter or RateLimiter(self.rate_limit_per_s, settings.rate_limit_burst)
        self.registry = registry
        # Per-endpoint budgets on top of the provider-wide one (a request waits for both).
        self.endpoint_limiters = (endpoint_limiters if endpoint_limiters is not None
                                  else endpoint_limiters_for(self.endpoint_caps()))
        self.requests_sent = 0  # across calls, for logs/metadata
        self.status_counts: Counter[int] = Counter()  # HTTP status -> responses across calls (0 = none)
        self.sandbox_responses = 0  # responses marked by fleet_assets.sandbox (simulated data)
        self.quarantined: list[dict] = []  # records that failed validation, until take_quarantined()
        self.source = public_url(settings.base_url)  # where the data came from, for manifests and metadata

    @property
    def rate_limit_per_s(self) -> float:
        return self.settings.rate_limit_per_s or self.default_rate_limit_per_s

    def endpoint_caps(self) -> dict[str, float]:
        return self.endpoint_caps_for(self.settings, self.registry)

    @classmethod
    def endpoint_caps_for(cls, settings: ClientSettings, registry: EndpointRegistry = REGISTRY) -> dict[str, float]:
        """Requests/s per endpoint name: documented caps (unless switched off), then explicit overrides."""
        caps = {}
        if settings.endpoint_caps:
            caps = {name: ep.rate_per_s for name in registry.list_endpoints(cls.provider)
                    if (ep := registry.get(cls.provider, name)).rate_per_s}
        return {**caps, **settings.endpoint_rate_limits}

    @classmethod
    def settings_for_share(cls, settings: ClientSettings, n: int, why: str = "") -> ClientSettings:
        """``settings`` for one of ``n`` fetches running at once against the same account (``why``: what says n).

        Each gets 1/n of the provider-wide rate, of every endpoint's cap and of the simultaneous requests
        (Motive documents at most 10), so n of them together never exceed the documented limits.
        """
        if n <= 1:
            return settings
        if settings.max_concurrency < n:
            raise ProviderConfigError(cls.provider, "config", f"{n} fetches may run at once ({why}), but "
                                      f"{settings.max_concurrency} simultaneous requests cannot be shared {n} ways: "
                                      f"allow at most {settings.max_concurrency} at once")
        rate = settings.rate_limit_per_s or cls.default_rate_limit_per_s
        return replace(settings, rate_limit_per_s=rate / n, max_concurrency=settings.max_concurrency // n,
                       endpoint_rate_limits={name: cap / n for name, cap in cls.endpoint_caps_for(settings).items()})

    def __repr__(self) -> str:  # never shows the credential
        return f"{type(self).__name__}(base_url={self.settings.base_url!r})"

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing persistent to release: sessions close at the end of each call."""

    # -- subclasses ------------------------------------------------------------
    def auth_headers(self) -> dict[str, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def format_datetime(self, value: datetime) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    def request_headers(self) -> dict[str, str]:
        """Headers sent on every call besides auth (none by default)."""
        return {}

    # -- plumbing --------------------------------------------------------------
    def session(self) -> ProviderSession:
        return ProviderSession(self.settings, self.limiter, {**self.request_headers(), **self.auth_headers()},
                               self.transport, self.endpoint_limiters)

    def run(self, body: Callable[[ProviderSession], Awaitable[T]]) -> T:
        """Open a session, run ``body(session)`` on an event loop, count requests."""
        async def main() -> T:
            async with self.session() as session:
                try:
                    return await body(session)
                finally:
                    self.requests_sent += session.requests_sent
                    self.status_counts.update(session.status_counts)
                    self.sandbox_responses += session.sandbox_responses
                    self.quarantined += session.quarantined
        return run_sync(main)

    def stream(self, body: Callable[[ProviderSession, Emit], Awaitable[None]],
               buffer: int = STREAM_BUFFER) -> Iterator[Any]:
        """What ``body(session, emit)`` emits (``await emit(page)``), as a sync iterator, page by page.

        Memory stays bounded by a page, not the day: the session runs on its own event loop in a worker thread
        (the consumer's work overlaps the next requests) and ``emit`` waits while ``buffer`` pages are not yet
        consumed. Everything else is :meth:`run`'s (one session, counters, quarantine), so retries, rate
        limits and shared budgets are the same as for a list-returning call. An error of the fetch is raised
        by the iterator; closing the iterator early stops the fetch at its next ``emit``.
        """
        pages: queue.Queue = queue.Queue(maxsize=buffer)
        closed = threading.Event()

        async def emit(page: Any) -> None:
            while True:
                if closed.is_set():
                    raise StreamClosed(f"{self.provider}: the consumer stopped reading")
                try:
                    pages.put_nowait(page)
                    return
                except queue.Full:
                    await asyncio.sleep(0.005)

        def finish(item: Any) -> None:
            while not closed.is_set():
                try:
                    pages.put(item, timeout=0.05)
                    return
                except queue.Full:
                    continue

        def work() -> None:
            try:
                self.run(lambda session: body(session, emit))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer's thread
                finish(_Failed(exc))
            else:
                finish(_END)

        worker = threading.Thread(target=work, name=f"{self.provider}-fetch", daemon=True)
        worker.start()
        try:
            while True:
                item = pages.get()
                if item is _END:
                    return
                if isinstance(item, _Failed):
                    raise item.exc
                yield item
        finally:
            closed.set()
            worker.join()

    def take_quarantined(self) -> list[dict]:
        """Records quarantined since the last call (``{provider, endpoint, where, error, record}``)."""
        taken, self.quarantined = self.quarantined, []
        return taken

    @property
    def served_by_sandbox(self) -> bool:
        """True once any response came from fleet_assets.sandbox (in-process or a loopback server)."""
        return self.sandbox_responses > 0

    def endpoint(self, name: str) -> Endpoint:
        return self.registry.get(self.provider, name)

    def list_endpoints(self) -> list[str]:
        return self.registry.list_endpoints(self.provider)

    def _wire_params(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in params.items():
            if isinstance(value, datetime):
                value = self.format_datetime(value)
            elif isinstance(value, date):
                value = value.isoformat()
            elif isinstance(value, (list, tuple)):
                value = ",".join(str(v) for v in value)
            out[key] = value
        return out

    # -- conveniences (Fleet Telemetry Hub style) --------------------------------
    def fetch_all(self, name: str, **params: Any) -> list[dict]:
        """Every item of endpoint ``name`` (all pages), as inner wire dicts."""
        ep = self.endpoint(name)
        params = dict(params)
        path = ep.render_path(params)
        ep.check_required(params)
        wire = self._wire_params(params)
        raw, _ = self.run(lambda session: collect(session, ep, path, wire))
        return raw

    def to_dataframe(self, name: str, **params: Any):
        """``fetch_all`` flattened into a pandas DataFrame (nested keys joined with '.')."""
        import pandas as pd

        return pd.json_normalize(self.fetch_all(name, **params))
