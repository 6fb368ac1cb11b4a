"""The transport-agnostic sandbox: (method, path, query, headers) -> SandboxResponse.

Both the in-process httpx transport and the Starlette/uvicorn app call
:meth:`SandboxBackend.handle`; the response carries the delay to apply, so
each front end sleeps its own way (``time.sleep``, ``asyncio.sleep`` or a
simulated read timeout). Order of checks mirrors a real API: route, auth,
server rate limit, injected fault, then the body (with data-level faults).
Every request is appended to :attr:`SandboxBackend.requests` so tests and
benchmarks can count what really went over the wire. Every response carries
``X-Fleet-Sandbox: true`` so a client can tell simulated data from real data
whatever base URL it was given.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from urllib.parse import unquote

from fleet_assets.providers.http import SANDBOX_MARKER_HEADER
from fleet_assets.sandbox import wire
from fleet_assets.sandbox.config import SandboxConfig
from fleet_assets.sandbox.faults import STATUS_TEXT, ServerRateLimit, choose_fault, retry_after_header
from fleet_assets.sandbox.fleet import SimVehicle, days_between, fleet, shift_driver, stable_unit, track_for

MOTIVE_MAX_PER_PAGE = 100
MOTIVE_MAX_SPAN_DAYS = 92
SAMSARA_TYPES = ("engineStates", "gps", "obdOdometerMeters")
ODOMETER_EVERY = 5  # one odometer reading per 5 gps readings
_SECRET_HEADERS = ("x-api-key", "authorization")
MOTIVE_CAPPED_ROUTE = "motive /v3/vehicle_locations"  # SandboxConfig.motive_max_simultaneous applies here


@dataclass
class SandboxResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


@dataclass(frozen=True)
class RequestRecord:
    arrived: float  # time.monotonic()
    provider: str
    path: str
    query: dict
    attempt: int
    status: int
    fault: str | None
    headers: dict = field(default_factory=dict)  # lower-cased, credentials removed


class BadRequest(Exception):
    pass


def _json(status: int, payload: dict, **headers: str) -> SandboxResponse:
    return SandboxResponse(status, json.dumps(payload, separators=(",", ":")).encode(),
                           {"Content-Type": "application/json", **headers})


def _parse_instant(value: str | None, name: str) -> float:
    if not value:
        raise BadRequest(f"{name} is required (RFC 3339, e.g. 2026-01-01T00:00:00Z)")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"{name} {value!r} is not an RFC 3339 time") from None
    if dt.tzinfo is None:
        raise BadRequest(f"{name} {value!r} has no timezone")
    return dt.timestamp()


def _encode_cursor(page: int, gen: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([page, gen]).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    try:
        page, gen = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return int(page), int(gen)
    except (ValueError, TypeError):
        raise BadRequest(f"invalid cursor {cursor!r}") from None


class SandboxBackend:
    def __init__(self, config: SandboxConfig | None = None, clock=time.time) -> None:
        self.config = config or SandboxConfig()
        self._clock = clock  # wall clock: hides future readings
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = defaultdict(int)
        self._served: dict[str, int] = defaultdict(int)  # clean first-page serves per window (late arrivals)
        self.requests: list[RequestRecord] = []
        self._in_flight: dict[str, int] = defaultdict(int)
        self.peak_in_flight: dict[str, int] = defaultdict(int)  # most requests served at once, per route_key
        rate = self.config.rate_limit_per_s
        self._limits = {p: ServerRateLimit(rate) for p in ("motive", "samsara")} if rate else {}
        c = self.config
        self.motive = fleet(c.seed, "motive", c.motive_vehicles)
        self.samsara = fleet(c.seed, "samsara", c.samsara_vehicles)
        self._motive_by_id = {v.provider_id: v for v in self.motive}
        self._walks: dict[tuple, list] = {}  # (window, generation) -> items of a cursor walk, reused per page

    def _walk_items(self, key: tuple, build) -> list:
        """Items of one cursor walk, built once and reused by its later pages (bounded FIFO cache)."""
        with self._lock:
            items = self._walks.get(key)
        if items is None:
            items = build()
            with self._lock:
                self._walks[key] = items
                while len(self._walks) > 32:
                    self._walks.pop(next(iter(self._walks)))
        return items

    # -- concurrency, as a provider counts it -----------------------------------------
    @staticmethod
    def route_keys(path: str) -> tuple[str, ...]:
        """The counters a request belongs to: its provider, and its provider + route (ids stripped).

        ``/v3/vehicle_locations/8000003`` counts for ``motive`` and ``motive /v3/vehicle_locations``: Motive's
        documented limit of 10 simultaneous calls is per that route.
        """
        path = unquote(path)
        provider = "motive" if path.startswith(("/v1/", "/v3/")) else "samsara" if path.startswith("/fleet/") else ""
        if not provider:
            return ()
        route = path.rsplit("/", 1)[0] if path.rsplit("/", 1)[-1].isdigit() else path
        return provider, f"{provider} {route}"

    @contextmanager
    def serving(self, path: str):
        """Count a request as in flight from arrival until its response is sent (front ends wrap each request).

        Yields whether the request is over the enforced simultaneous-call cap (then ``handle(..., over_cap=True)``
        answers 429 like the provider); a refused call still counts as in flight, as at the provider.
        """
        keys = self.route_keys(path)
        cap = self.config.motive_max_simultaneous
        with self._lock:
            for key in keys:
                self._in_flight[key] += 1
                self.peak_in_flight[key] = max(self.peak_in_flight[key], self._in_flight[key])
            over = cap is not None and MOTIVE_CAPPED_ROUTE in keys and self._in_flight[MOTIVE_CAPPED_ROUTE] > cap
        try:
            yield over
        finally:
            with self._lock:
                for key in keys:
                    self._in_flight[key] -= 1

    def stats(self) -> dict:
        """Requests, 429 answers and peak concurrency per provider and route, since start."""
        with self._lock:
            records = list(self.requests)
            peaks = dict(self.peak_in_flight)
        out: dict = {}
        for r in records:
            for key in self.route_keys(r.path):
                entry = out.setdefault(key, {"requests": 0, "429": 0, "peak_in_flight": peaks.get(key, 0)})
                entry["requests"] += 1
                entry["429"] += r.status == 429
        return out

    # -- entry point -------------------------------------------------------------
    def handle(self, method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str],
               over_cap: bool = False) -> SandboxResponse:
        path = unquote(path)
        provider = "motive" if path.startswith(("/v1/", "/v3/")) else "samsara" if path.startswith("/fleet/") else ""
        if path == "/healthz":
            return self._mark(_json(200, {"ok": True}))
        if not provider or method.upper() != "GET":
            return self._mark(_json(404, {"message": f"no route for {method} {path}"}))
        arrived = time.monotonic()
        key = f"{provider}|{path}|" + "&".join(f"{k}={v}" for k, v in sorted(query.items()))
        with self._lock:
            attempt = self._attempts[key]
            self._attempts[key] += 1
        if over_cap:
            response, fault = _json(429, {"error_message": "Too many simultaneous requests"},
                                    **{"Retry-After": "1"}), "simultaneous_cap"
        else:
            response, fault = self._respond(provider, path, dict(query), headers, key, attempt)
        response.delay_s += self.config.latency_ms / 1000.0
        self._mark(response)
        seen = {k.lower(): v for k, v in headers.items() if k.lower() not in _SECRET_HEADERS}
        with self._lock:
            self.requests.append(RequestRecord(arrived, provider, path, dict(query), attempt,
                                               response.status, fault, seen))
        return response

    def _mark(self, response: SandboxResponse) -> SandboxResponse:
        if self.config.mark_responses:
            response.headers[SANDBOX_MARKER_HEADER] = "true"
        return response

    def _respond(self, provider, path, query, headers, key, attempt) -> tuple[SandboxResponse, str | None]:
        c = self.config
        lower = {k.lower(): v for k, v in headers.items()}
        if provider == "motive" and lower.get("x-api-key") != c.motive_api_key:
            return _json(401, {"error_message": "invalid API key"}), None
        if provider == "samsara" and lower.get("authorization") != f"Bearer {c.samsara_api_token}":
            return _json(401, {"message": "Unauthorized: invalid or missing API token"}), None
        if self._limits:
            wait = self._limits[provider].take()
            if wait > 0:
                body = {"error_message": "Too many requests"} if provider == "motive" else {
                    "message": "Rate limit exceeded"}
                return _json(429, body, **{"Retry-After": f"{wait:.5f}"}), "server_rate_limit"
        fault = choose_fault(c.faults, c.seed, key, path, attempt)
        if fault in ("rate_limit", "rate_limit_date"):
            header = retry_after_header(fault, c.faults.retry_after_s)
            body = {"error_message": "Too many requests"} if provider == "motive" else {"message": "Rate limit exceeded"}
            return _json(429, body, **{"Retry-After": header}), fault
        if fault and fault.startswith("http_"):
            status = int(fault[5:])
            return SandboxResponse(status, STATUS_TEXT[status].encode(), {"Content-Type": "text/plain"}), fault
        try:
            response = self._route(provider, path, query, key, lower)
        except BadRequest as exc:
            msg = {"error_message": str(exc)} if provider == "motive" else {"message": str(exc)}
            return _json(400, msg), fault
        if response.status == 200 and fault == "truncated":
            response.body = response.body[: max(1, len(response.body) // 2)]
        if fault == "slow":
            response.delay_s += c.faults.slow_s
        if fault == "timeout":
            response.delay_s += c.faults.timeout_s
        return response, fault

    def _route(self, provider: str, path: str, query: dict, key: str, headers: dict) -> SandboxResponse:
        if path == "/v1/vehicles":
            return self._motive_vehicles(query)
        if path.startswith("/v3/vehicle_locations/") and path.count("/") == 3:
            return self._motive_locations(path.rsplit("/", 1)[1], query, key, self._motive_metric(headers))
        if path == "/fleet/vehicles":
            return self._samsara_vehicles(query)
        if path == "/fleet/vehicles/stats/history":
            return self._samsara_stats(query, key)
        if path == "/fleet/driver-vehicle-assignments":
            return self._samsara_assignments(query, key)
        body = {"error_message": "Not found"} if provider == "motive" else {"message": f"no route {path}"}
        return _json(404, body)

    # -- helpers -------------------------------------------------------------------
    def _now(self) -> float:
        return self._clock() if self.config.hide_future else float("inf")

    def _generation(self, window_key: str, consume: bool) -> int:
        """How often this window was served before; ``consume`` marks one more serve."""
        with self._lock:
            gen = self._served[window_key]
            if consume:
                self._served[window_key] += 1
            return gen

    def _late(self, gen: int, *parts) -> bool:
        rate = self.config.faults.late_rate
        return gen == 0 and rate > 0 and stable_unit(self.config.seed, "late", *parts) < rate

    def _dup(self, *parts) -> bool:
        rate = self.config.faults.duplicate_rate
        return rate > 0 and stable_unit(self.config.seed, "dup", *parts) < rate

    # -- Motive --------------------------------------------------------------------
    def _motive_vehicles(self, query: dict) -> SandboxResponse:
        try:
            page_no = int(query.get("page_no", 1))
            per_page = min(MOTIVE_MAX_PER_PAGE, int(query.get("per_page", 25)))
        except ValueError:
            raise BadRequest("page_no and per_page must be integers") from None
        if page_no < 1 or per_page < 1:
            raise BadRequest("page_no and per_page must be >= 1")
        chunk = self.motive[(page_no - 1) * per_page: page_no * per_page]
        items = [{"vehicle": wire.motive_vehicle(self.config.seed, v)} for v in chunk]
        return _json(200, {"vehicles": items,
                           "pagination": {"per_page": per_page, "page_no": page_no, "total": len(self.motive)}})

    def _motive_metric(self, headers: dict) -> bool:
        """``X-Metric-Units`` decides; without it, the company's unit setting (never the vehicle flag)."""
        value = headers.get("x-metric-units")
        if value is None:
            return self.config.motive_company_units == "metric"
        if value.strip().lower() not in ("true", "false"):
            raise BadRequest(f"X-Metric-Units must be true or false, got {value!r}")
        return value.strip().lower() == "true"

    def _motive_locations(self, vehicle_id: str, query: dict, key: str, metric: bool) -> SandboxResponse:
        v = self._motive_by_id.get(vehicle_id)
        if v is None:
            return _json(404, {"error_message": f"Vehicle {vehicle_id} not found"})
        try:
            first = date.fromisoformat(query.get("start_date", ""))
            last = date.fromisoformat(query.get("end_date", ""))
        except ValueError:
            raise BadRequest("start_date and end_date are required (yyyy-mm-dd)") from None
        if last < first:
            raise BadRequest("end_date is before start_date")
        if (last - first).days >= MOTIVE_MAX_SPAN_DAYS:
            raise BadRequest("The duration between the start date and the end date must not exceed 3 months")
        c, now = self.config, self._now()
        gen = self._generation(key, consume=False)
        items = []
        for i in range((last - first).days + 1):
            day = first + timedelta(days=i)
            track = track_for(c.seed, v, day, c.interval_s, c.fleet_start)
            crews = [wire.motive_driver(shift_driver(c.seed, v, day, n)[0]) for n in range(len(track.shifts))]
            for n, p in enumerate(track.points):
                if p.t > now or self._late(gen, v.provider_id, int(p.t)):
                    continue
                shift = 0 if not track.shifts or p.t <= track.shifts[0][1] else 1
                record = {"vehicle_location": wire.motive_location(c.seed, v, p, crews[shift] if crews else None,
                                                                      metric)}
                if n == 0 and c.malformed_records and v.index % 7 == 1:
                    record["vehicle_location"]["lat"] = "north"
                items.append(record)
                if self._dup(v.provider_id, int(p.t)):
                    items.append(record)
        self._generation(key, consume=True)
        return _json(200, {"vehicle_locations": items})

    # -- Samsara -------------------------------------------------------------------
    def _cursor_page(self, query: dict, window_key: str) -> tuple[int, int]:
        after = query.get("after") or ""
        if after:
            return _decode_cursor(after)
        return 0, self._generation(window_key, consume=False)

    def _page_response(self, pages: list[list[dict]], page: int, gen: int, window_key: str,
                       render) -> SandboxResponse:
        if page >= max(1, len(pages)) or page < 0:
            raise BadRequest("cursor out of range")
        data = render(pages[page]) if pages else []
        has_next = page + 1 < len(pages)
        if page == 0:
            self._generation(window_key, consume=True)
        return _json(200, {"data": data, "pagination": {
            "endCursor": _encode_cursor(page + 1, gen) if has_next else "", "hasNextPage": has_next}})

    def _paginate(self, items: list, size: int) -> list[list]:
        pages = [items[i:i + size] for i in range(0, len(items), size)]
        if self.config.empty_pages and len(pages) >= 2:
            pages.insert(1, [])  # a short/empty page while hasNextPage is true
        return pages

    def _samsara_vehicles(self, query: dict) -> SandboxResponse:
        limit = min(512, int(query.get("limit", 512) or 512))
        window_key = "samsara-vehicles"
        page, gen = self._cursor_page(query, window_key)
        pages = self._paginate(list(self.samsara), limit)
        return self._page_response(pages, page, gen, window_key, lambda vs: [wire.samsara_vehicle(v) for v in vs])

    def _window(self, query: dict) -> tuple[float, float]:
        start = _parse_instant(query.get("startTime"), "startTime")
        end = _parse_instant(query.get("endTime"), "endTime")
        if end <= start:
            raise BadRequest("endTime must be after startTime")
        return start, end

    def _samsara_stats(self, query: dict, key: str) -> SandboxResponse:
        start, end = self._window(query)
        types = [t for t in (query.get("types") or "").split(",") if t]
        if not types:
            raise BadRequest("types is required")
        if len(types) > 3:
            raise BadRequest("You may list up to 3 types")
        window_key = f"stats|{start}|{end}|{','.join(types)}"
        page, gen = self._cursor_page(query, window_key)
        c = self.config
        end_eff = min(end, self._now())
        def build() -> list:
            fragments = []  # (vehicle, part, parts): vehicles with index % 3 == 0 span two pages
            for v in self.samsara:
                if self._has_data(v, start, end_eff):
                    parts = 2 if v.index % 3 == 0 else 1
                    fragments += [(v, n, parts) for n in range(parts)]
            return fragments
        fragments = self._walk_items((window_key, gen), build)
        pages = self._paginate(fragments, c.samsara_page_size)

        def render(frags):
            out = []
            for v, part, parts in frags:
                record = self._stats_record(v, start, end_eff, set(types), gen)
                if parts > 1:
                    for name in SAMSARA_TYPES:
                        if name in record:
                            series = record[name]
                            half = (len(series) + 1) // 2
                            record[name] = series[:half] if part == 0 else series[half:]
                            if not record[name]:
                                del record[name]
                out.append(record)
            return out
        return self._page_response(pages, page, gen, window_key, render)

    def _has_data(self, v: SimVehicle, start: float, end: float) -> bool:
        c = self.config
        for day in days_between(start, end):
            track = track_for(c.seed, v, day, c.interval_s, c.fleet_start)
            if any(start <= p.t < end for p in track.points):
                return True
        return False

    def _stats_record(self, v: SimVehicle, start: float, end: float, types: set[str], gen: int) -> dict:
        c = self.config
        record = {"id": v.provider_id, "name": v.number, "externalIds": wire.samsara_external_ids(v)}
        if c.malformed_records and v.index % 7 == 1:
            record["externalIds"]["fleet.tags"] = {"depot": v.depot}
        elif c.malformed_records and v.index % 7 == 4:
            record["externalIds"].update({"maintenanceId": 250020, "leased": True})
        engine, gps, odo = [], [], []
        for day in days_between(start, end):
            track = track_for(c.seed, v, day, c.interval_s, c.fleet_start)
            engine += [wire.samsara_engine(v, t, s) for t, s in track.engine_events if start <= t < end]
            for i, p in enumerate(track.points):
                if not start <= p.t < end or self._late(gen, v.provider_id, int(p.t)):
                    continue
                reading = wire.samsara_gps(c.seed, v, p)
                gps.append(reading)
                if self._dup(v.provider_id, int(p.t)):
                    gps.append(dict(reading))
                if i % ODOMETER_EVERY == 0 and v.index % 8 != 5:  # index % 8 == 5: no OBD coverage
                    odo.append(wire.samsara_odometer(v, p))
        if "engineStates" in types and engine:
            record["engineStates"] = engine
        if "gps" in types and gps:
            record["gps"] = gps
        if "obdOdometerMeters" in types and odo:
            record["obdOdometerMeters"] = odo
        return record

    def _samsara_assignments(self, query: dict, key: str) -> SandboxResponse:
        """Without ``assignmentType``: assignments within the vehicle trips only (every type); with it: that
        type, including assignments outside trips (here: the open-ended ``static`` ones), as Samsara documents."""
        if query.get("filterBy") not in ("vehicles", "drivers"):
            raise BadRequest("filterBy is required: 'vehicles' or 'drivers'")
        kind = query.get("assignmentType") or None
        if kind is not None and kind not in wire.ASSIGNMENT_TYPE_FILTERS:
            raise BadRequest(f"assignmentType {kind!r} is not one of {', '.join(wire.ASSIGNMENT_TYPE_FILTERS)}")
        start, end = self._window(query)
        window_key = f"assign|{start}|{end}|{kind}"
        page, gen = self._cursor_page(query, window_key)
        c, now = self.config, self._now()

        def build() -> list[dict]:
            rows = [(r, r.pop("_outside_trips", False)) for r in self._assignment_rows(start, end, now, gen)]
            if kind is None:
                return [r for r, outside in rows if not outside]
            return [r for r, _ in rows if r["assignmentType"] == kind]
        rows = self._walk_items((window_key, gen), build)
        pages = self._paginate(rows, c.samsara_assignment_page_size)
        return self._page_response(pages, page, gen, window_key, lambda rs: rs)

    def _assignment_rows(self, start: float, end: float, now: float, gen: int) -> list[dict]:
        c = self.config
        fleet_start = wire.fleet_start_epoch(c.fleet_start)
        rows = []
        for v in self.samsara:
            if v.static_assignment:
                if fleet_start < end:  # spans the time outside trips: served only when asked by assignmentType
                    rows.append({**wire.samsara_assignment(v, v.driver, fleet_start, None, "static", False),
                                 "_outside_trips": True})
                continue
            for day in days_between(start - 86400, end):
                track = track_for(c.seed, v, day, c.interval_s, c.fleet_start)
                for n, (s0, s1) in enumerate(track.shifts):
                    if not (s0 < end and s1 > start) or s0 > now or self._late(gen, v.provider_id, "a", int(s0)):
                        continue
                    driver, passenger = shift_driver(c.seed, v, day, n)
                    kind = wire.ASSIGNMENT_TYPES[int(s0) % len(wire.ASSIGNMENT_TYPES)]
                    open_end = None if s1 > now else s1
                    assigned = wire.iso_z(s0) if kind == "dispatch" else ""
                    row = wire.samsara_assignment(v, driver, s0, open_end, kind, False, assigned)
                    rows.append(row)
                    if self._dup(v.provider_id, "a", int(s0)):
                        rows.append(dict(row))
                    if passenger:
                        rows.append(wire.samsara_assignment(v, passenger, s0, open_end, kind, True))
        return rows
