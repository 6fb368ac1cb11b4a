"""Arrow schemas of the edge datasets (data layout contract)."""

from __future__ import annotations

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")

EDGE_EVENTS_SCHEMA = pa.schema([
    ("vin", pa.string()), ("trip_id", pa.string()), ("seq", pa.int64()), ("ts", TS),
    ("lat", pa.float64()), ("lon", pa.float64()), ("speed_kph", pa.float64()), ("rpm", pa.float64()),
    ("coolant_c", pa.float64()), ("throttle_pos", pa.float64()), ("soc_pct", pa.float64()),
    ("fuel_level_pct", pa.float64()), ("clock_skew", pa.bool_()),
])
RAW_EVENT_FIELDS = [f.name for f in EDGE_EVENTS_SCHEMA if f.name != "clock_skew"]
RAW_EVENTS_SCHEMA = pa.schema([EDGE_EVENTS_SCHEMA.field(name) for name in RAW_EVENT_FIELDS])  # before skew flagging

EDGE_DTCS_SCHEMA = pa.schema([
    ("vin", pa.string()), ("trip_id", pa.string()), ("seq", pa.int64()), ("ts", TS),
    ("code", pa.string()), ("description", pa.string()), ("status", pa.string()),
])

TRIPS_SCHEMA = pa.schema([
    ("trip_id", pa.string()), ("vin", pa.string()), ("started_at", TS), ("ended_at", TS),
])

TRIP_SUMMARIES_SCHEMA = pa.schema([
    ("trip_id", pa.string()), ("vin", pa.string()), ("started_at", TS), ("ended_at", TS),
    ("event_count", pa.int64()), ("clock_skew_events", pa.int64()),
    ("duration_s", pa.float64()), ("distance_km", pa.float64()),
    ("moving_s", pa.float64()), ("idle_s", pa.float64()),
    ("max_speed_kph", pa.float64()), ("avg_speed_kph", pa.float64()),
    ("fuel_used_pct", pa.float64()),
    ("harsh_brake_count", pa.int64()), ("harsh_accel_count", pa.int64()),
    ("dtc_codes", pa.list_(pa.string())),
])
