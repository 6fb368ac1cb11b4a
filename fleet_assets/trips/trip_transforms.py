"""Pure trip transforms: Arrow in, Arrow out. No I/O, no Dagster.

* ``prepare_events``: one row per (trip_id, seq), sorted, clock skew flagged.
* ``events_on_day`` / ``dtcs_on_day``: the rows of one UTC day.
* ``summarize_trips``: per-trip distance, timing, speed, fuel, harsh events, DTCs.
* ``to_telemetry``: edge GPS rows in the unified TELEMETRY_SCHEMA.

Clock skew: a device clock can jump (no GPS time yet, RTC reset). An event is
flagged when its ts lies more than ``SKEW_TOLERANCE`` outside the trip's
[started_at, ended_at], or runs backwards by more than ``BACKWARDS_TOLERANCE``
against the previous unflagged event in seq order. Flagged events are kept
(partitioned by their own ts) but excluded from summary statistics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from fleet_assets.days import in_day
from fleet_assets.schema import MPH_PER_KPH, conform
from fleet_assets.trips.edge_schemas import EDGE_DTCS_SCHEMA, EDGE_EVENTS_SCHEMA, TRIP_SUMMARIES_SCHEMA

SKEW_TOLERANCE = pd.Timedelta(minutes=10)
BACKWARDS_TOLERANCE = pd.Timedelta(seconds=2)
MOVING_KPH = 2.0
MAX_SAMPLE_GAP_S = 60.0        # longer gaps (signal loss) count neither as moving nor idle
HARSH_MPS2 = 3.0               # ~0.3 g, a common telematics threshold
HARSH_MAX_DT_S = 5.0
EARTH_RADIUS_KM = 6371.0088


def prepare_events(events: pa.Table, trips: pa.Table) -> pa.Table:
    """Dedupe on (trip_id, seq), sort by it and add ``clock_skew``."""
    df = events.to_pandas(types_mapper=None)
    if df.empty:
        return EDGE_EVENTS_SCHEMA.empty_table()
    df = df.drop_duplicates(["trip_id", "seq"], keep="first").sort_values(["trip_id", "seq"], kind="stable")
    bounds = trips.to_pandas().drop_duplicates("trip_id").set_index("trip_id")
    started = df["trip_id"].map(bounds["started_at"])
    ended = df["trip_id"].map(bounds["ended_at"]).fillna(df.groupby("trip_id")["ts"].transform("max"))
    outside = (df["ts"] < started - SKEW_TOLERANCE) | (df["ts"] > ended + SKEW_TOLERANCE)
    backwards = pd.Series(False, index=df.index)
    in_window = df[~outside]
    previous = in_window.groupby("trip_id")["ts"].shift()
    backwards.loc[in_window.index] = (in_window["ts"] < previous - BACKWARDS_TOLERANCE).fillna(False)
    df["clock_skew"] = outside.fillna(False) | backwards
    return pa.Table.from_pandas(df.reset_index(drop=True), schema=EDGE_EVENTS_SCHEMA, preserve_index=False)


def events_on_day(prepared: pa.Table, day: str) -> pa.Table:
    return _rows_on_day(prepared, day)


def dtcs_on_day(dtcs: pa.Table, day: str) -> pa.Table:
    df = dtcs.to_pandas()
    if df.empty:
        return EDGE_DTCS_SCHEMA.empty_table()
    df = df.drop_duplicates(["trip_id", "seq"]).sort_values(["trip_id", "seq"], kind="stable")
    return _rows_on_day(pa.Table.from_pandas(df, schema=EDGE_DTCS_SCHEMA, preserve_index=False), day)


def _rows_on_day(table: pa.Table, day: str) -> pa.Table:
    return table.filter(in_day(table["ts"], day)).combine_chunks()


def haversine_km(lat1, lon1, lat2, lon2):
    """Great-circle distance, vectorised over numpy arrays."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(a))


def summarize_trips(prepared: pa.Table, dtcs: pa.Table, trips: pa.Table) -> pa.Table:
    """One row per trip in ``trips`` computed from its unflagged events."""
    events = prepared.to_pandas()
    codes = dtcs.to_pandas().groupby("trip_id")["code"].agg(lambda s: sorted(set(s))) if dtcs.num_rows else {}
    rows = []
    for trip in trips.to_pylist():
        trip_events = events[events["trip_id"] == trip["trip_id"]] if len(events) else events
        rows.append({**trip, **_trip_stats(trip_events), "dtc_codes": list(codes.get(trip["trip_id"], []))})
    return pa.Table.from_pylist(rows, schema=TRIP_SUMMARIES_SCHEMA)


def _trip_stats(df: pd.DataFrame) -> dict:
    good = df[~df["clock_skew"]] if len(df) else df
    stats = {"event_count": int(len(df)), "clock_skew_events": int(df["clock_skew"].sum()) if len(df) else 0,
             "duration_s": 0.0, "distance_km": 0.0, "moving_s": 0.0, "idle_s": 0.0, "max_speed_kph": None,
             "avg_speed_kph": None, "fuel_used_pct": None, "harsh_brake_count": 0, "harsh_accel_count": 0}
    if good.empty:
        return stats
    ts = good["ts"]
    stats["duration_s"] = float((ts.max() - ts.min()).total_seconds())
    gps = good.dropna(subset=["lat", "lon"])
    if len(gps) > 1:
        stats["distance_km"] = float(np.nansum(haversine_km(gps["lat"].values[:-1], gps["lon"].values[:-1],
                                                            gps["lat"].values[1:], gps["lon"].values[1:])))
    speed = good["speed_kph"]
    dt = ts.diff().dt.total_seconds().to_numpy()[1:]
    valid_gap = (dt > 0) & (dt <= MAX_SAMPLE_GAP_S)
    moving = (speed.to_numpy()[:-1] > MOVING_KPH)
    stats["moving_s"] = float(dt[valid_gap & moving].sum())
    stats["idle_s"] = float(dt[valid_gap & ~moving].sum())
    if speed.notna().any():
        stats["max_speed_kph"] = float(speed.max())
        stats["avg_speed_kph"] = float(speed.mean())
    fuel = good["fuel_level_pct"].dropna()
    if len(fuel) > 1:
        stats["fuel_used_pct"] = float(fuel.iloc[0] - fuel.iloc[-1])
    accel = (speed.diff().to_numpy()[1:] / 3.6) / np.where(dt > 0, dt, np.nan)
    short = (dt > 0) & (dt <= HARSH_MAX_DT_S)
    stats["harsh_brake_count"] = int(np.sum(short & (accel <= -HARSH_MPS2)))
    stats["harsh_accel_count"] = int(np.sum(short & (accel >= HARSH_MPS2)))
    return stats


def to_telemetry(events: pa.Table) -> pa.Table:
    """Edge GPS rows (lat/lon present) in TELEMETRY_SCHEMA; provider "edge", vehicle id = VIN.

    engine_state from rpm: no rpm → null, 0 → Off, turning while stopped → Idle, else On.
    """
    df = events.to_pandas()
    df = df.dropna(subset=["lat", "lon"]) if len(df) else df
    rpm = df["rpm"].to_numpy(dtype=float) if len(df) else np.array([], dtype=float)
    speed = df["speed_kph"].to_numpy(dtype=float) if len(df) else np.array([], dtype=float)
    state = np.where(rpm > 0, np.where(speed > MOVING_KPH, "On", "Idle"), "Off").astype(object)
    state[np.isnan(rpm)] = None
    out = pd.DataFrame({
        "provider": "edge",
        "provider_vehicle_id": df["vin"],
        "vin": df["vin"],
        "fleet_number": None,
        "timestamp": df["ts"],
        "latitude": df["lat"],
        "longitude": df["lon"],
        "speed_mph": df["speed_kph"] * MPH_PER_KPH,
        "heading_degrees": np.nan,
        "engine_state": state,
        "driver_id": None,
        "driver_name": None,
        "location_description": None,
        "odometer": np.nan,
    })
    return conform(pa.Table.from_pandas(out.reset_index(drop=True), preserve_index=False))
