"""One provider HTTP session: auth, shared rate budget, bounded concurrency, retries.

Retry policy (tenacity):
* every request waits for its endpoint's own budget (a documented per-endpoint
  cap, e.g. Samsara assignments 5 req/s) and then the provider-wide one;
* 429 -> the shared limiter (and the endpoint's) is paused for ``Retry-After`` (fractional seconds or
  an HTTP-date; fallback when absent) so *all* requests of the provider wait;
  the retry itself then has no extra sleep. At most ``max_rate_limit_retries``.
* 5xx / 408, timeouts, connection errors, truncated or non-JSON bodies ->
  full-jitter exponential backoff, at most ``max_retries`` retries.
* 401/403 -> one ``ProviderAuthError`` naming the env var to set; the session
  remembers it so concurrent/following calls fail fast (no retry storm).
* other 4xx -> ``ProviderResponseError`` at once (retrying cannot help).
The credential never reaches a log line or an error message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_random_exponential

from fleet_assets.providers.errors import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderResponseError,
    ProviderUnavailableError,
)
from fleet_assets.providers.ratelimit import RateLimiter
from fleet_assets.providers.retry_after import parse_retry_after
from fleet_assets.providers.client_settings import ClientSettings

log = logging.getLogger("fleet_assets.providers")
SANDBOX_MARKER_HEADER = "X-Fleet-Sandbox"  # sent by fleet_assets.sandbox on every response, never by a provider


class _Transient(Exception):
    def __init__(self, kind: str, detail: str) -> None:
        self.kind = kind  # rate_limited | server | timeout | connection | body
        self.detail = detail
        super().__init__(detail)


class ProviderSession:
    """Lives for one ``asyncio.run``; the limiter outlives it (shared per client)."""

    def __init__(self, settings: ClientSettings, limiter: RateLimiter, headers: dict[str, str],
                 transport: httpx.AsyncBaseTransport | None = None,
                 endpoint_limiters: dict[str, RateLimiter] | None = None) -> None:
        self.settings = settings
        self.limiter = limiter
        self.endpoint_limiters = endpoint_limiters or {}
        self.semaphore = asyncio.Semaphore(settings.max_concurrency)
        self.auth_error: ProviderAuthError | None = None
        self.requests_sent = 0
        self.status_counts: Counter[int] = Counter()  # HTTP status -> responses (0 = no response)
        self.sandbox_responses = 0  # responses carrying the sandbox marker: the data is simulated
        self.quarantined: list[dict] = []  # records that failed validation (raw record + reason), see paging.unwrap
        self._http = httpx.AsyncClient(
            base_url=settings.base_url, headers={**headers, "Accept": "application/json",
                                                 "User-Agent": settings.user_agent},
            timeout=settings.timeout(), verify=settings.verify(), transport=transport,
            limits=httpx.Limits(max_connections=max(settings.max_concurrency, 1),
                                max_keepalive_connections=max(settings.max_concurrency, 1)),
        )

    async def __aenter__(self) -> ProviderSession:
        return self

    async def __aexit__(self, *exc) -> None:
        await self._http.aclose()

    def _scrub(self, text: str) -> str:
        secret = self.settings.credential
        return text.replace(secret, "***") if secret and len(secret) >= 4 else text

    async def get_json(self, endpoint: str, path: str, params: dict | None = None) -> dict:
        """GET ``path`` and return the JSON object, retrying per the module policy."""
        s = self.settings
        failures = {"rate": 0, "other": 0}

        def stop(state: RetryCallState) -> bool:
            exc = state.outcome.exception() if state.outcome else None
            key = "rate" if isinstance(exc, _Transient) and exc.kind == "rate_limited" else "other"
            failures[key] += 1
            return failures["other"] > s.max_retries or failures["rate"] > s.max_rate_limit_retries

        backoff = wait_random_exponential(multiplier=s.backoff_base_s, max=s.backoff_max_s)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            if isinstance(exc, _Transient) and exc.kind == "rate_limited":
                return 0.0  # the shared limiter is paused; acquire() does the waiting
            return backoff(state)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception()
            log.warning("%s %s: %s; retry %d in %.2f s", s.provider, path, self._scrub(str(exc)),
                        state.attempt_number, state.next_action.sleep if state.next_action else 0.0)

        try:
            async for attempt in AsyncRetrying(retry=retry_if_exception_type(_Transient), stop=stop, wait=wait,
                                               before_sleep=before_sleep, reraise=True):
                with attempt:
                    return await self._attempt(endpoint, path, params)
        except _Transient as exc:
            tries = failures["rate"] + failures["other"]
            detail = self._scrub(exc.detail)
            if exc.kind == "body":
                raise ProviderResponseError(s.provider, endpoint, f"unusable response body after {tries} attempt(s): "
                                            f"{detail}") from None
            raise ProviderUnavailableError(s.provider, endpoint, f"gave up after {tries} attempt(s) "
                                           f"({failures['rate']} rate-limited); last error: {detail}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, endpoint: str, path: str, params: dict | None) -> dict:
        s = self.settings
        if self.auth_error is not None:
            raise self.auth_error
        endpoint_limiter = self.endpoint_limiters.get(endpoint)
        async with self.semaphore:  # slot first, then the budget: a 429 pause binds every queued request
            if endpoint_limiter is not None:  # the endpoint's own cap, then the provider-wide budget
                await endpoint_limiter.acquire()
            await self.limiter.acquire()
            if self.auth_error is not None:
                raise self.auth_error
            self.requests_sent += 1
            try:
                response = await self._http.get(path, params=params)
            except httpx.TimeoutException as exc:
                self.status_counts[0] += 1
                raise _Transient("timeout", f"timed out ({type(exc).__name__})") from None
            except httpx.TransportError as exc:
                self.status_counts[0] += 1
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):  # retrying cannot fix a trust problem
                    raise ProviderConfigError(s.provider, endpoint, f"TLS certificate of {s.base_url} not trusted "
                                              f"({exc}); set verify_ssl to the path of its CA bundle "
                                              "(or false for a test server)") from None
                raise _Transient("connection", f"connection error ({type(exc).__name__}: {exc})") from None
        status = response.status_code
        self.status_counts[status] += 1
        if response.headers.get(SANDBOX_MARKER_HEADER) == "true":
            self.sandbox_responses += 1
        if status == 429:
            delay = parse_retry_after(response.headers.get("Retry-After"))
            pause = s.fallback_retry_after_s if delay is None else delay
            self.limiter.pause(pause)
            if endpoint_limiter is not None:
                endpoint_limiter.pause(pause)
            raise _Transient("rate_limited", f"HTTP 429 rate limited (Retry-After: "
                                             f"{response.headers.get('Retry-After', 'absent')})")
        if status in (401, 403):
            self.auth_error = ProviderAuthError(
                s.provider, endpoint, f"credentials rejected (HTTP {status}: {self._scrub(_excerpt(response))}). "
                f"Set {s.credential_env_var or 'the API credential'} to a valid {s.provider.title()} key with "
                f"read access, or unset it to use the built-in sandbox.", status=status)
            log.error("%s", self.auth_error)
            raise self.auth_error
        if status >= 500 or status == 408:
            raise _Transient("server", f"HTTP {status}: {self._scrub(_excerpt(response))}")
        if status >= 400:
            raise ProviderResponseError(s.provider, endpoint, f"HTTP {status} for {path}: "
                                        f"{self._scrub(_excerpt(response))}", status=status)
        try:
            data = json.loads(response.content)
        except ValueError as exc:
            raise _Transient("body", f"invalid or truncated JSON ({len(response.content)} bytes: {exc})") from None
        if not isinstance(data, dict):
            raise _Transient("body", f"expected a JSON object, got {type(data).__name__}")
        return data


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] + ("..." if len(text) > limit else "") if text else "(empty body)"


__all__ = ["ProviderSession", "ProviderError"]
