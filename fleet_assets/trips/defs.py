"""Trips area definitions (resource-free; resources are bound in fleet_assets.definitions)."""

import dagster as dg

from fleet_assets.trips.assets import TRIP_ASSETS
from fleet_assets.trips.sensors import completed_trips_sensor

defs = dg.Definitions(assets=TRIP_ASSETS, sensors=[completed_trips_sensor])
