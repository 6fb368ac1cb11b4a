"""The analytics area's Dagster definitions (resource-free; resources are bound in fleet_assets.definitions)."""

import dagster as dg

from fleet_assets.analytics.assets import analytics_upload

defs = dg.Definitions(assets=[analytics_upload])
