"""The code location: assembles each area's definitions and the shared resources.

Each area (pipeline, trips, analytics) exports a resource-free
``dg.Definitions`` from its ``defs`` module; resources are bound once here.
Provider resources fall back to the built-in sandbox when no credentials are
configured (see README "Embedded defaults").
"""

from __future__ import annotations

import dagster as dg

from fleet_assets.resources.storage import FleetStorage


def _resources() -> dict:
    return {
        "storage": FleetStorage(),
    }


defs = dg.Definitions.merge(
    # area defs are listed here, one line each
    dg.Definitions(resources=_resources()),
)
