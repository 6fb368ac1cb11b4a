"""The analytics area's Dagster definitions (resource-free; resources are bound in fleet_assets.definitions)."""

import dagster as dg

from fleet_assets.analytics.assets import analytics_upload

AUTOMATION_SENSOR = "analytics_upload_automation"

# Declared (not Dagster's implicit default sensor, which starts stopped) so uploads run on a fresh `make dev`.
analytics_upload_automation = dg.AutomationConditionSensorDefinition(
    AUTOMATION_SENSOR, target=dg.AssetSelection.assets(analytics_upload), default_status=dg.DefaultSensorStatus.RUNNING,
    description="Uploads a day to IcsAnalytics once its telemetry and trip assets have landed.",
)

defs = dg.Definitions(assets=[analytics_upload], sensors=[analytics_upload_automation])
