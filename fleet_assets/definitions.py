"""The code location: assembles each area's definitions and binds the shared resources. Nothing else.

Each area (analytics, provider_ingest, trips, warehouse) exports a resource-free
``dg.Definitions`` from its ``defs`` module, jobs included; each area's
``resources`` module builds its resources (reading configuration through
``fleet_assets.settings``). Provider resources fall back to the built-in
sandbox when no credentials are configured (see README "Embedded defaults").
"""

from __future__ import annotations

import dagster as dg

# Import area *modules* (not their Definitions objects): Dagster refuses a module
# scope holding more than one Definitions.
from fleet_assets.analytics import defs as analytics
from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.executor import fleet_executor
from fleet_assets.provider_ingest import defs as provider_ingest
from fleet_assets.provider_ingest.resources import provider_resources
from fleet_assets.trips import defs as trips
from fleet_assets.warehouse import defs as warehouse
from fleet_assets.warehouse.resources import FleetStorage


def resources() -> dict:
    """The resources every area shares, bound from the environment as it is now (tests re-bind with this)."""
    return {"storage": FleetStorage(), "analytics": AnalyticsResource.from_env(), **provider_resources()}


defs = dg.Definitions.merge(
    # area defs are listed here, one line each
    analytics.defs,
    provider_ingest.defs,
    trips.defs,
    warehouse.defs,
    dg.Definitions(resources=resources(), executor=fleet_executor),
)
