"""The code location: assembles each area's definitions and the shared resources.

Each area (pipeline, trips, analytics) exports a resource-free
``dg.Definitions`` from its ``defs`` module; resources are bound once here.
Provider resources fall back to the built-in sandbox when no credentials are
configured (see README "Embedded defaults").
"""

from __future__ import annotations

import os

import dagster as dg

# Import area *modules* (not their Definitions objects): Dagster refuses a module
# scope holding more than one Definitions.
from fleet_assets.analytics import defs as analytics
from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.executor import fleet_executor
from fleet_assets.pipeline import defs as pipeline
from fleet_assets.resources.providers import MotiveResource, SamsaraResource
from fleet_assets.resources.storage import FleetStorage
from fleet_assets.trips import defs as trips


def _resources() -> dict:
    return {
        "storage": FleetStorage(),
        "analytics": AnalyticsResource.from_env(),
        "motive": MotiveResource(api_key=dg.EnvVar("MOTIVE_API_KEY")) if os.getenv("MOTIVE_API_KEY") else MotiveResource(),
        "samsara": SamsaraResource(api_key=dg.EnvVar("SAMSARA_API_TOKEN")) if os.getenv("SAMSARA_API_TOKEN") else SamsaraResource(),
    }


defs = dg.Definitions.merge(
    # area defs are listed here, one line each
    analytics.defs,
    pipeline.defs,
    trips.defs,
    dg.Definitions(resources=_resources(), executor=fleet_executor),
)
