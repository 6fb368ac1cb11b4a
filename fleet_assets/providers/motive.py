"""Motive (KeepTruckin) client: vehicles + per-vehicle v3 locations.

``/v3/vehicle_locations/{id}`` takes inclusive *dates* whose timezone is not
documented (Motive API reference, developer.gomotive.com, "Vehicle Locations" v3), so the request is padded by a day on each side
and the answer filtered on ``located_at`` (offsets parsed) to the half-open
``[start, end)``. The per-vehicle fan-out runs at most ``max_concurrency``
(default 10, Motive's documented limit) calls at once under the shared rate
budget; a vehicle whose call still fails after retries is reported in
``failed_vehicle_ids``, never silently dropped. Bad credentials abort the
whole fetch with one ``ProviderAuthError``.

Units: Motive answers in the *company's* unit setting unless the request
carries ``X-Metric-Units`` (Motive API reference, "System of Units"), so every
call sends it explicitly (``false`` = imperial by default, matching the mph /
miles schema) and the result says which system was asked for; a vehicle's
``metric_units`` flag does not say what the API did.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from fleet_assets.providers.client import ProviderClient
from fleet_assets.providers.errors import ProviderAuthError, ProviderError
from fleet_assets.providers.http import ProviderSession
from fleet_assets.providers.models import parse_instant
from fleet_assets.providers.paging import collect_pages, unwrap
from fleet_assets.providers.client_settings import ClientSettings
from fleet_assets.providers.timeutil import check_window, rfc3339_z

log = logging.getLogger("fleet_assets.providers.motive")

DEFAULT_BASE_URL = "https://api.gomotive.com"
API_KEY_ENV_VAR = "MOTIVE_API_KEY"
BASE_URL_ENV_VAR = "MOTIVE_BASE_URL"
DATE_PAD = timedelta(days=1)
MAX_SPAN_DAYS = 90  # the endpoint refuses more than 3 months per call


@dataclass(repr=False)
class MotiveLocationsResult:
    vehicles: list[dict]  # inner "vehicle" dicts as on the wire
    locations: dict[str, list[dict]]  # vehicle id -> inner "vehicle_location" dicts in [start, end)
    failed_vehicle_ids: list[str]
    errors: dict[str, str] = field(default_factory=dict)  # vehicle id -> last error message
    duplicates_dropped: int = 0
    units: str = "imperial"  # what X-Metric-Units asked for: "imperial" or "metric"

    def __repr__(self) -> str:  # summary only: the records can be millions of dicts
        points = sum(len(v) for v in self.locations.values())
        return (f"MotiveLocationsResult(vehicles={len(self.vehicles)}, locations={points}, "
                f"failed_vehicle_ids={self.failed_vehicle_ids!r})")


@dataclass(repr=False)
class MotivePage:
    """One step of a streamed Motive day: first the fleet (``vehicles``, ``vehicle_ids`` in listing order), then
    per location call the vehicle's records in the window (``index`` = its place in the listing; records
    repeating an earlier page of that vehicle are dropped and counted), or a vehicle that failed (``error``)."""

    vehicles: list[dict] = field(default_factory=list)
    vehicle_ids: list[str] | None = None
    vehicle_id: str = ""
    index: int = -1
    locations: list[dict] = field(default_factory=list)
    dropped: int = 0
    error: ProviderError | None = None

    def __repr__(self) -> str:
        return (f"MotivePage(vehicles={len(self.vehicles)})" if self.vehicle_ids is not None else
                f"MotivePage(vehicle_id={self.vehicle_id!r}, locations={len(self.locations)}, error={self.error!r})")


def date_chunks(first: date, last: date, span: int = MAX_SPAN_DAYS) -> list[tuple[date, date]]:
    """Inclusive ``[first, last]`` cut into inclusive chunks of at most ``span`` days."""
    chunks, cur = [], first
    while cur <= last:
        end = min(last, cur + timedelta(days=span - 1))
        chunks.append((cur, end))
        cur = end + timedelta(days=1)
    return chunks


class MotiveClient(ProviderClient):
    provider = "motive"
    default_base_url = DEFAULT_BASE_URL
    credential_env_var = API_KEY_ENV_VAR
    base_url_env_var = BASE_URL_ENV_VAR

    @classmethod
    def from_key(cls, api_key: str, base_url: str = DEFAULT_BASE_URL, **settings) -> MotiveClient:
        return cls.from_credential(api_key, base_url, **settings)

    def auth_headers(self) -> dict[str, str]:
        return {"X-API-Key": self.settings.credential}

    @property
    def units(self) -> str:
        return "metric" if self.settings.metric_units else "imperial"

    def request_headers(self) -> dict[str, str]:
        return {"X-Metric-Units": "true" if self.settings.metric_units else "false"}

    def format_datetime(self, value: datetime) -> str:
        return rfc3339_z(value)

    def fetch_vehicles(self) -> list[dict]:
        """Every vehicle (inner dicts), all pages."""
        ep = self.endpoint("vehicles")
        raw, _ = self.run(lambda s: collect_pages(s, ep, ep.path, {}))
        return raw

    def fetch_vehicle_locations(self, start: datetime, end: datetime) -> MotiveLocationsResult:
        """All vehicles and their breadcrumbs with ``start <= located_at < end`` (the pages of
        :meth:`iter_vehicle_locations`, gathered; a failed vehicle has no entry in ``locations``)."""
        vehicles: list[dict] = []
        locations: dict[str, list[dict]] = {}
        failed: dict[str, tuple[int, str]] = {}
        dropped = 0
        for page in self.iter_vehicle_locations(start, end):
            if page.vehicle_ids is not None:
                vehicles, locations = page.vehicles, {vid: [] for vid in page.vehicle_ids}
            elif page.error is not None:
                failed[page.vehicle_id] = (page.index, str(page.error))
            else:
                locations[page.vehicle_id] += page.locations
                dropped += page.dropped
        order = sorted(failed, key=lambda vid: failed[vid][0])  # listing order, as before streaming
        for vid in order:
            del locations[vid]
        return MotiveLocationsResult(vehicles=vehicles, locations=locations, failed_vehicle_ids=order,
                                     errors={vid: failed[vid][1] for vid in order}, duplicates_dropped=dropped,
                                     units=self.units)

    def iter_vehicle_locations(self, start: datetime, end: datetime) -> Iterator[MotivePage]:
        """The fleet list first, then one page per location call as it arrives (or per vehicle that failed).

        Bounded memory: pages are handed over as they come (:meth:`ProviderClient.stream`), in completion order
        across vehicles; ``index`` gives the listing order back.
        """
        start, end = check_window("motive", start, end)
        first = (start - DATE_PAD).date()
        last = (end - timedelta(microseconds=1) + DATE_PAD).date()
        chunks = date_chunks(first, last)
        return self.stream(lambda s, emit: self._fetch_locations(s, start, end, chunks, emit))

    async def _fetch_locations(self, session: ProviderSession, start: datetime, end: datetime,
                               chunks: list[tuple[date, date]], emit) -> None:
        ep_vehicles, ep_locations = self.endpoint("vehicles"), self.endpoint("vehicle_locations")
        vehicles, models = await collect_pages(session, ep_vehicles, ep_vehicles.path, {})
        ids = [str(m.id) for m in models]
        log.info("motive: %d vehicles; fetching locations %s..%s (%d call(s) each, <= %d at once)",
                 len(ids), chunks[0][0], chunks[-1][1], len(chunks), self.settings.max_concurrency)
        await emit(MotivePage(vehicles=vehicles, vehicle_ids=ids))
        dropped = 0

        def in_window(record: dict) -> bool:
            """Cheap pre-filter on the raw string; anything unparsable goes on to validation (and fails there)."""
            try:
                return start <= parse_instant(record["located_at"]) < end
            except (KeyError, TypeError, ValueError, AttributeError):
                return True

        async def one(index: int, vehicle_id: str) -> None:
            nonlocal dropped
            seen: set[str] = set()
            path = ep_locations.render_path({"vehicle_id": vehicle_id})
            for d0, d1 in chunks:
                body = await session.get_json(ep_locations.name, path,
                                              {"start_date": d0.isoformat(), "end_date": d1.isoformat()})
                raw, locs = unwrap(ep_locations, body, f"vehicle {vehicle_id}", session.quarantined,
                                   keep=in_window)
                kept: list[dict] = []
                repeated = 0
                for record, loc in zip(raw, locs):
                    if not start <= loc.located_at < end:
                        continue
                    if loc.id in seen:
                        repeated += 1
                        continue
                    seen.add(loc.id)
                    kept.append(record)
                dropped += repeated
                await emit(MotivePage(vehicle_id=vehicle_id, index=index, locations=kept, dropped=repeated))

        done = 0
        step = max(1, len(ids) // 10)

        async def guarded(index: int, vehicle_id: str) -> None:
            nonlocal done
            try:
                await one(index, vehicle_id)
                done += 1
                if done % step == 0 or done == len(ids):  # progress on long fan-outs, ~10 lines
                    log.info("motive: locations of %d/%d vehicles fetched", done, len(ids))
            except ProviderAuthError:
                raise
            except ProviderError as exc:
                log.warning("motive: vehicle %s failed: %s", vehicle_id, exc)
                await emit(MotivePage(vehicle_id=vehicle_id, index=index, error=exc))

        results = await asyncio.gather(*(guarded(i, v) for i, v in enumerate(ids)), return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException):
                raise r
        if dropped:
            log.info("motive: dropped %d duplicated location record(s) (same id)", dropped)
