"""Endpoint registry: every provider endpoint we call, self-described.

Mirrors Fleet Telemetry Hub's ``EndpointRegistry`` (list/get/has/find by
path/describe) so a CLI or notebook can call any endpoint by name through
``client.fetch_all(name, **params)``. The definitions carry what the generic
pager needs: list key, item wrapper (Motive double-wraps items), pagination
style and the model each item is validated against.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel

from fleet_assets.providers import models as m

Pagination = Literal["page", "cursor", "none"]
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Endpoint:
    provider: str
    name: str
    path: str  # may hold {placeholders}
    pagination: Pagination
    list_key: str
    item_key: str | None  # Motive: {"vehicles": [{"vehicle": {...}}]}
    model: type[BaseModel]
    description: str
    required: tuple[str, ...] = ()
    rate_hint: str = ""
    rate_per_s: float | None = None  # the provider's documented cap for this endpoint (requests per second)

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.path))

    def render_path(self, params: dict) -> str:
        """Fill placeholders (URL-quoted, so an id cannot smuggle a path) and pop them from ``params``."""
        def fill(match: re.Match) -> str:
            key = match.group(1)
            if key not in params:
                raise ValueError(f"{self.provider} {self.name}: missing path parameter {key!r}")
            return quote(str(params.pop(key)), safe="")
        return _PLACEHOLDER.sub(fill, self.path)

    def check_required(self, params: dict) -> None:
        missing = [p for p in self.required if p not in params]
        if missing:
            raise ValueError(f"{self.provider} {self.name}: missing required parameter(s) {', '.join(missing)}")


ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("motive", "vehicles", "/v1/vehicles", "page", "vehicles", "vehicle", m.MotiveVehicle,
             "All company vehicles (incl. inactive), page_no/per_page pagination, max 100 per page."),
    Endpoint("motive", "vehicle_locations", "/v3/vehicle_locations/{vehicle_id}", "none", "vehicle_locations",
             "vehicle_location", m.MotiveVehicleLocation,
             "Breadcrumbs of one vehicle for whole inclusive days (start_date/end_date, YYYY-MM-DD, <= 3 months).",
             required=("start_date", "end_date"), rate_hint="<= 10 simultaneous requests"),
    Endpoint("samsara", "vehicles", "/fleet/vehicles", "cursor", "data", None, m.SamsaraVehicle,
             "All vehicles, cursor pagination.", rate_hint="25 req/s", rate_per_s=25.0),
    Endpoint("samsara", "vehicle_stats_history", "/fleet/vehicles/stats/history", "cursor", "data", None,
             m.SamsaraStatsRecord,
             "Stat readings in [startTime, endTime) per vehicle (<= 3 types); the cursor walks the vehicle axis.",
             required=("startTime", "endTime", "types"), rate_hint="50 req/s", rate_per_s=50.0),
    Endpoint("samsara", "driver_vehicle_assignments", "/fleet/driver-vehicle-assignments", "cursor", "data", None,
             m.SamsaraAssignment,
             "Driver-vehicle assignments overlapping [startTime, endTime); filterBy=vehicles for the whole fleet.",
             required=("filterBy",), rate_hint="5 req/s", rate_per_s=5.0),
)


class EndpointRegistry:
    """Case-insensitive lookup of the endpoint definitions."""

    def __init__(self, endpoints: tuple[Endpoint, ...] = ENDPOINTS) -> None:
        self._by_key = {(e.provider.lower(), e.name.lower()): e for e in endpoints}

    def list_providers(self) -> list[str]:
        return sorted({p for p, _ in self._by_key})

    def list_endpoints(self, provider: str) -> list[str]:
        return sorted(n for p, n in self._by_key if p == provider.lower())

    def has(self, provider: str, name: str) -> bool:
        return (provider.lower(), name.lower()) in self._by_key

    def get(self, provider: str, name: str) -> Endpoint:
        try:
            return self._by_key[(provider.lower(), name.lower())]
        except KeyError:
            known = ", ".join(self.list_endpoints(provider)) or "none"
            raise KeyError(f"unknown {provider} endpoint {name!r} (known: {known})") from None

    def find_by_path(self, fragment: str) -> list[Endpoint]:
        return [e for e in self._by_key.values() if fragment in e.path]

    def describe(self, provider: str) -> str:
        lines = []
        for name in self.list_endpoints(provider):
            e = self.get(provider, name)
            extra = f"; required: {', '.join(e.required)}" if e.required else ""
            hint = f"; limit {e.rate_hint}" if e.rate_hint else ""
            lines.append(f"{e.name:28s} GET {e.path} [{e.pagination}] {e.description}{extra}{hint}")
        return "\n".join(lines)


REGISTRY = EndpointRegistry()
