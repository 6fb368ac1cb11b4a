"""Generic pagers over an :class:`Endpoint`: Motive page numbers, Samsara cursors.

Both return the *inner* wire dicts (Motive's ``{"vehicle": {...}}`` wrapper
removed) plus the validated models, so callers can filter on typed fields and
still hand the untouched wire records downstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable
from functools import lru_cache

from pydantic import BaseModel, TypeAdapter, ValidationError

from fleet_assets.providers.endpoints import Endpoint
from fleet_assets.providers.errors import ProviderResponseError
from fleet_assets.providers.http import ProviderSession
from fleet_assets.providers.models import MotivePagination, SamsaraPagination

log = logging.getLogger("fleet_assets.providers")
MOTIVE_MAX_PER_PAGE = 100
MAX_PAGES = 100_000  # runaway guard for a cursor that never ends


@lru_cache(maxsize=None)
def _adapter(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(list[model])


def unwrap(endpoint: Endpoint, page: dict, where: str, quarantine: list[dict] | None,
           keep: Callable[[dict], bool] | None = None) -> tuple[list[dict], list[BaseModel]]:
    """Items of one page: (raw inner dicts, validated models).

    A record that fails validation is moved to ``quarantine`` (raw record plus
    the reason) and the rest of the page goes on: one bad record must not cost
    a page, let alone a day. ``quarantine=None`` raises ``ProviderResponseError``
    instead. A page whose *shape* is wrong always raises. ``keep`` pre-filters
    the raw items before validation (cheap window checks first; only what
    survives pays for the model).
    """
    items = page.get(endpoint.list_key)
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ProviderResponseError(endpoint.provider, endpoint.name,
                                    f"{where}: '{endpoint.list_key}' is {type(items).__name__}, expected a list")
    raw = items
    if endpoint.item_key:
        raw = []
        for i, item in enumerate(items):
            inner = item.get(endpoint.item_key) if isinstance(item, dict) else None
            if not isinstance(inner, dict):
                raise ProviderResponseError(endpoint.provider, endpoint.name, f"{where}: item {i} is not wrapped "
                                            f"as {{\"{endpoint.item_key}\": {{...}}}}")
            raw.append(inner)
    if keep is not None:
        raw = [item for item in raw if keep(item)]
    adapter = _adapter(endpoint.model)
    try:
        models = adapter.validate_python(raw)
    except ValidationError as exc:
        if quarantine is None:
            first = exc.errors()[0]
            raise ProviderResponseError(endpoint.provider, endpoint.name, f"{where}: invalid record at "
                                        f"{_loc(first['loc'])}: {first['msg']} ({exc.error_count()} error(s) on "
                                        "the page)") from None
        reasons: dict[int, list[str]] = {}
        for err in exc.errors():
            reasons.setdefault(err["loc"][0], []).append(f"{_loc(err['loc'][1:])}: {err['msg']}")
        for i, why in reasons.items():
            quarantine.append({"provider": endpoint.provider, "endpoint": endpoint.name, "where": where,
                               "error": "; ".join(why), "record": raw[i]})
        log.warning("%s %s: %s: %d record(s) failed validation and were quarantined (first: %s)",
                    endpoint.provider, endpoint.name, where, len(reasons), next(iter(reasons.values()))[0])
        raw = [item for i, item in enumerate(raw) if i not in reasons]
        models = adapter.validate_python(raw)
    for record, model in zip(raw, models):
        model.fix_wire(record)
    return raw, models


def _loc(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(record)"


async def collect_pages(session: ProviderSession, endpoint: Endpoint, path: str, params: dict,
                        per_page: int = MOTIVE_MAX_PER_PAGE) -> tuple[list[dict], list[BaseModel]]:
    """Motive ``page_no``/``per_page``: page 1 tells the total, the rest are fetched concurrently.

    Stops on the reported total, and keeps going past it while pages come back
    full (the fleet grew mid-listing); a past-the-end page is an empty list.
    """
    async def page(no: int) -> tuple[list[dict], list[BaseModel], dict]:
        body = await session.get_json(endpoint.name, path, {**params, "page_no": no, "per_page": per_page})
        raw, models = unwrap(endpoint, body, f"page {no}", session.quarantined)
        return raw, models, body

    raw, models, first = await page(1)
    try:
        pag = MotivePagination.model_validate(first.get("pagination"))
    except ValidationError:
        raise ProviderResponseError(endpoint.provider, endpoint.name,
                                    f"page 1 has no valid pagination block: {first.get('pagination')!r}") from None
    size = pag.per_page
    pages = max(1, math.ceil(pag.total / size))
    results = await asyncio.gather(*(page(no) for no in range(2, pages + 1)))
    for r, mo, _ in results:
        raw += r
        models += mo
    last_len = len(results[-1][0]) if results else len(raw)
    no = pages
    while last_len >= size and no < MAX_PAGES:  # more than announced: walk on until an empty page
        no += 1
        r, mo, _ = await page(no)
        raw += r
        models += mo
        last_len = len(r)
    return raw, models


async def iter_cursor(session: ProviderSession, endpoint: Endpoint, path: str,
                      params: dict) -> AsyncIterator[tuple[list[dict], list[BaseModel]]]:
    """Samsara cursors: follow ``endCursor`` while ``hasNextPage``; empty pages do not end the walk.

    The next page is requested as soon as the cursor is known, so validating
    one page overlaps the round trip of the next (a walk is otherwise serial).
    """
    def query(after: str | None) -> dict:
        return {**params, "after": after} if after else dict(params)

    seen: set[str] = set()
    pending = asyncio.ensure_future(session.get_json(endpoint.name, path, query(None)))
    try:
        for no in range(1, MAX_PAGES + 1):
            body = await pending
            pending = None
            try:
                pag = SamsaraPagination.model_validate(body.get("pagination"))
            except ValidationError:
                raise ProviderResponseError(endpoint.provider, endpoint.name, f"page {no} has no valid "
                                            f"pagination block: {body.get('pagination')!r}") from None
            if pag.hasNextPage:
                if not pag.endCursor:
                    raise ProviderResponseError(endpoint.provider, endpoint.name,
                                                f"page {no} says hasNextPage but has no endCursor")
                if pag.endCursor in seen:
                    raise ProviderResponseError(endpoint.provider, endpoint.name,
                                                f"cursor loop: page {no} repeats endCursor {pag.endCursor!r}")
                seen.add(pag.endCursor)
                pending = asyncio.ensure_future(session.get_json(endpoint.name, path, query(pag.endCursor)))
            yield unwrap(endpoint, body, f"page {no}", session.quarantined)
            if pending is None:
                return
        raise ProviderResponseError(endpoint.provider, endpoint.name, f"more than {MAX_PAGES} pages; giving up")
    finally:
        if pending is not None and not pending.done():
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending


async def collect(session: ProviderSession, endpoint: Endpoint, path: str,
                  params: dict) -> tuple[list[dict], list[BaseModel]]:
    """All items of an endpoint, whatever its pagination style."""
    if endpoint.pagination == "page":
        return await collect_pages(session, endpoint, path, params)
    if endpoint.pagination == "cursor":
        raw: list[dict] = []
        models: list[BaseModel] = []
        async for r, mo in iter_cursor(session, endpoint, path, params):
            raw += r
            models += mo
        return raw, models
    body = await session.get_json(endpoint.name, path, params)
    return unwrap(endpoint, body, "response", session.quarantined)
