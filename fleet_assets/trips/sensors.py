"""Sensor: completed trips in the landing zone → runs of the affected daily partitions.

The cursor is the last completion-log number read plus the days still waiting
to become valid partitions (today's date is not a partition until it ends,
``end_offset=0``). A tick reads only the markers after the cursor, so it costs
O(new trips), not O(all trips). It touches only the completion log (small JSON
objects embedded, one indexed query in Postgres with ``FLEET_STATE_URL``): no
DuckDB, no Parquet. Run keys are ``day + last marker``: re-evaluating the same tick
dedupes, and a day receiving another trip later gets a new run.

Days before the partitions start (``FLEET_PARTITIONS_START``) cannot be
materialized, so they are refused; an operator sees them where they look: the
tick's skip reason and an ``edge_events`` observation (asset catalog) listing
the refused days, not only a log line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import dagster as dg

from fleet_assets.ingest.landing import CompletionMarker, LandingZone
from fleet_assets.partitions import DAILY_START_DATE, daily_partitions
from fleet_assets.settings import PARTITIONS_START_ENV
from fleet_assets.trips.assets import TRIP_ASSETS, normalized_edge
from fleet_assets.warehouse.resources import FleetStorage

SENSOR_NAME = "completed_trips_sensor"
MAX_TRIPS_PER_TICK = 5000

# The trip assets plus whatever consumes normalized_edge directly (``telemetry``, provider_ingest area).
TRIP_SELECTION = dg.AssetSelection.assets(*TRIP_ASSETS) | dg.AssetSelection.assets(normalized_edge).downstream(depth=1)


@dataclass
class TickPlan:
    seq: int
    pending: list[str] = field(default_factory=list)
    run_days: list[str] = field(default_factory=list)
    dropped_days: list[str] = field(default_factory=list)
    trips: int = 0

    def cursor(self) -> str:
        return json.dumps({"seq": self.seq, "pending": self.pending}, separators=(",", ":"))


def parse_cursor(cursor: str | None) -> tuple[int, list[str]]:
    if not cursor:
        return 0, []
    data = json.loads(cursor)
    return int(data["seq"]), list(data.get("pending", []))


def plan_tick(cursor: str | None, markers: list[CompletionMarker], last_day: str | None,
              start: str = DAILY_START_DATE) -> TickPlan:
    """Pure: which days to run now, which to keep pending, which to refuse (before ``start``), the new cursor."""
    seq, pending = parse_cursor(cursor)
    days = set(pending)
    for marker in markers:
        days.update(marker.days)
        seq = max(seq, marker.seq)
    plan = TickPlan(seq=seq, trips=len(markers))
    for day in sorted(days):
        if day < start:
            plan.dropped_days.append(day)  # before the partitions start: old history or a broken device clock
        elif last_day is not None and day <= last_day:
            plan.run_days.append(day)
        else:
            plan.pending.append(day)
    return plan


@dg.sensor(
    name=SENSOR_NAME,
    target=TRIP_SELECTION,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Completed edge trips (landing/completed log) → edge_events, edge_dtcs, trip_summaries, "
    "normalized_edge and telemetry for each affected UTC day.",
)
def completed_trips_sensor(context: dg.SensorEvaluationContext, storage: FleetStorage):
    seq, _ = parse_cursor(context.cursor)
    zone = LandingZone.for_layout(storage.layout)
    try:
        markers = zone.read_completions(seq, limit=MAX_TRIPS_PER_TICK)
    finally:
        zone.close()
    plan = plan_tick(context.cursor, markers, daily_partitions.get_last_partition_key())
    refused = _refused(plan)
    if refused:
        context.log.warning(refused)
    if plan.pending:
        context.log.info(f"waiting for days to close before running: {plan.pending}")
    events = _refused_observation(plan)
    if not plan.run_days:
        reason = f"{len(markers)} new trips, no closed day to run" + (f"; {refused}" if refused else "")
        return dg.SensorResult(skip_reason=reason, cursor=plan.cursor(), asset_events=events)
    context.log.info(f"{len(markers)} new completed trips -> partitions {plan.run_days}")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=day, run_key=f"{SENSOR_NAME}:{day}:{plan.seq}",
                          tags={"fleet/trigger": SENSOR_NAME, "fleet/completion_seq": str(plan.seq)})
            for day in plan.run_days
        ],
        cursor=plan.cursor(),
        asset_events=events,
    )


def _refused(plan: TickPlan) -> str:
    if not plan.dropped_days:
        return ""
    return (f"refused {len(plan.dropped_days)} day(s) before the partitions start {DAILY_START_DATE}: "
            f"{', '.join(plan.dropped_days)} (set {PARTITIONS_START_ENV} earlier to load them)")


def _refused_observation(plan: TickPlan) -> list[dg.AssetObservation]:
    """Refused days as an observation of ``edge_events``: listed in its asset catalog page, kept with the instance."""
    if not plan.dropped_days:
        return []
    return [dg.AssetObservation(
        asset_key=dg.AssetKey("edge_events"),
        description=_refused(plan),
        metadata={"refused_days": plan.dropped_days, "partitions_start": DAILY_START_DATE,
                  "completion_seq": plan.seq, "setting": PARTITIONS_START_ENV},
    )]
