"""Provider-ingest area definitions: its assets, jobs, schedule and sensor (resource-free; bound in fleet_assets.definitions)."""

from __future__ import annotations

import dagster as dg

from fleet_assets.provider_ingest.assets import normalized_motive, normalized_samsara, raw_motive, raw_samsara, telemetry
from fleet_assets.provider_ingest.schedules import build_lookback_schedule
from fleet_assets.provider_ingest.sensors import build_telemetry_after_provider_failure_sensor

PIPELINE_ASSETS = [raw_motive, raw_samsara, normalized_motive, normalized_samsara, telemetry]

provider_ingest_job = dg.define_asset_job(
    "provider_ingest_job",
    selection=dg.AssetSelection.assets(*PIPELINE_ASSETS),
    description="Fetch Motive and Samsara for one UTC day, normalize, dedup into telemetry.",
)
telemetry_job = dg.define_asset_job(
    "telemetry_job", selection=dg.AssetSelection.assets(telemetry),
    description="Rebuild the deduplicated telemetry of one day from the normalized sources that exist.",
)

provider_ingest_schedule = build_lookback_schedule(provider_ingest_job, name="provider_ingest_lookback_schedule")
telemetry_after_provider_failure = build_telemetry_after_provider_failure_sensor(telemetry_job)

defs = dg.Definitions(
    assets=PIPELINE_ASSETS,
    jobs=[provider_ingest_job, telemetry_job],
    schedules=[provider_ingest_schedule],
    sensors=[telemetry_after_provider_failure],
)
