"""Samsara client: vehicle stats history and fleet-wide driver assignments.

Stats history walks the cursor over the *vehicle* axis; a vehicle can still
show up on several pages, so records are merged by id with their reading
arrays concatenated, exact duplicate readings dropped and each series sorted
by time. Assignments are fetched fleet-wide (``filterBy=vehicles``; the hub's
50-id chunking is unnecessary, H3) and are overlap-anchored. Samsara returns
assignments outside the vehicle trips' time ranges only when ``assignmentType``
is specified (GET /fleet/driver-vehicle-assignments reference), and the
parameter takes one type per request: one unfiltered walk (every type within
trips) plus one walk per type in ``assignment_types`` (default: every value the
reference lists), unioned with exact duplicates dropped.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime

from fleet_assets.providers.client import ProviderClient
from fleet_assets.providers.http import ProviderSession
from fleet_assets.providers.models import parse_instant
from fleet_assets.providers.paging import iter_cursor
from fleet_assets.providers.client_settings import ClientSettings
from fleet_assets.providers.timeutil import check_window, rfc3339_z

log = logging.getLogger("fleet_assets.providers.samsara")

DEFAULT_BASE_URL = "https://api.samsara.com"
API_TOKEN_ENV_VAR = "SAMSARA_API_TOKEN"
BASE_URL_ENV_VAR = "SAMSARA_BASE_URL"
STATS_TYPES = ("engineStates", "gps", "obdOdometerMeters")  # the documented maximum of 3 types
# The values assignmentType accepts, per the API reference (samsara-python docstring).
ASSIGNMENT_TYPES = ("HOS", "idCard", "static", "faceId", "tachograph", "safetyManual", "RFID", "trailer", "external",
                    "qrCode", "driverApp", "voiceSignIn", "smartAssign")


def merge_stats(pages: list[list[dict]]) -> tuple[list[dict], int]:
    """Merge per-vehicle records across pages; returns (records, exact duplicate readings dropped)."""
    merged: dict[str, dict] = {}
    for page in pages:
        for record in page:
            vid = str(record.get("id"))
            if vid not in merged:
                merged[vid] = {k: (list(v) if isinstance(v, list) else v) for k, v in record.items()}
                continue
            target = merged[vid]
            for key, value in record.items():
                if isinstance(value, list) and isinstance(target.get(key), list):
                    target[key].extend(value)
                elif key not in target:
                    target[key] = list(value) if isinstance(value, list) else value
    dropped = 0
    for record in merged.values():
        for key, series in record.items():
            if isinstance(series, list) and series and all(isinstance(x, dict) and "time" in x for x in series):
                record[key], n = _sorted_unique(series)
                dropped += n
    return list(merged.values()), dropped


def _sorted_unique(series: list[dict]) -> tuple[list[dict], int]:
    keyed = sorted(((parse_instant(x["time"]), i, x) for i, x in enumerate(series)), key=lambda t: (t[0], t[1]))
    out: list[dict] = []
    same_time: list[dict] = []
    last_time = None
    for t, _, x in keyed:
        if t != last_time:
            same_time, last_time = [], t
        if x in same_time:
            continue
        same_time.append(x)
        out.append(x)
    return out, len(series) - len(out)


class SamsaraClient(ProviderClient):
    provider = "samsara"
    default_base_url = DEFAULT_BASE_URL
    credential_env_var = API_TOKEN_ENV_VAR
    base_url_env_var = BASE_URL_ENV_VAR
    default_rate_limit_per_s = 150.0  # per API token (rate-limits page); endpoint caps come from the registry
    assignment_types: tuple[str, ...] = ASSIGNMENT_TYPES  # one extra assignments walk each (outside trips)

    @classmethod
    def from_token(cls, token: str, base_url: str = DEFAULT_BASE_URL, **settings) -> SamsaraClient:
        return cls.from_credential(token, base_url, **settings)

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.credential}"}

    def format_datetime(self, value: datetime) -> str:
        return rfc3339_z(value)

    def fetch_stats_history(self, start: datetime, end: datetime) -> list[dict]:
        """Readings in ``[start, end)`` per vehicle (raw ``data`` records merged across pages)."""
        start, end = check_window("samsara", start, end)
        pages = list(self.iter_stats_pages(start, end))
        records, dropped = merge_stats(pages)
        log.info("samsara: stats history %s..%s: %d page(s), %d vehicle(s)%s", rfc3339_z(start), rfc3339_z(end),
                 len(pages), len(records), f", {dropped} duplicate reading(s) dropped" if dropped else "")
        return records

    def iter_stats_pages(self, start: datetime, end: datetime) -> Iterator[list[dict]]:
        """The raw ``data`` records of each stats-history page as it arrives, unmerged (a vehicle may come back
        on later pages: :func:`merge_stats` over all of its records gives :meth:`fetch_stats_history`'s)."""
        start, end = check_window("samsara", start, end)
        params = {"startTime": rfc3339_z(start), "endTime": rfc3339_z(end), "types": ",".join(STATS_TYPES)}
        ep = self.endpoint("vehicle_stats_history")

        async def walk(session: ProviderSession, emit) -> None:
            async for raw, _ in iter_cursor(session, ep, ep.path, params):
                await emit(raw)
        return self.stream(walk)

    def fetch_driver_assignments(self, start: datetime, end: datetime) -> list[dict]:
        """Fleet-wide assignments overlapping ``[start, end)``, within and outside trips (exact duplicates dropped)."""
        return [record for page in self.iter_driver_assignments(start, end) for record in page]

    def iter_driver_assignments(self, start: datetime, end: datetime) -> Iterator[list[dict]]:
        """:meth:`fetch_driver_assignments` page by page as the walks go (records not seen before, in order)."""
        start, end = check_window("samsara", start, end)
        params = {"filterBy": "vehicles", "startTime": rfc3339_z(start), "endTime": rfc3339_z(end)}
        return self.stream(lambda s, emit: self._assignments(s, params, emit))

    async def _assignments(self, session: ProviderSession, params: dict, emit) -> None:
        ep = self.endpoint("driver_vehicle_assignments")
        count = 0
        seen: set[str] = set()  # exact duplicates across walks (keys of the day's assignments: small)
        kinds = (None, *self.assignment_types)
        # One walk after another: they share the endpoint's 5 req/s cap, so running them at once gains
        # nothing, and a failing walk then stops the fetch without others still in flight.
        for kind in kinds:
            query = params if kind is None else {**params, "assignmentType": kind}
            async for raw, _ in iter_cursor(session, ep, ep.path, query):
                new: list[dict] = []
                for record in raw:
                    key = json.dumps(record, sort_keys=True)
                    if key not in seen:
                        seen.add(key)
                        new.append(record)
                count += len(new)
                await emit(new)
        log.info("samsara: %d assignment(s) %s..%s from %d walk(s) (unfiltered, then assignmentType=%s)",
                 count, params["startTime"], params["endTime"], len(kinds), ",".join(self.assignment_types))
