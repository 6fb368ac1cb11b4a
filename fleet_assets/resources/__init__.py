"""Dagster resources that still live outside their area: only ``analytics`` (moved by its own issue-13 branch).

TEMPORARY: ``fleet_assets.resources.storage`` is an alias of
``fleet_assets.warehouse.resources`` (where ``FleetStorage`` moved) for the
analytics modules not yet re-pointed; the lead deletes it with this package
once the analytics branch is merged. Nothing here opens a connection at import.
"""

import sys

from fleet_assets.warehouse import resources as _warehouse_resources

sys.modules[f"{__name__}.storage"] = _warehouse_resources
