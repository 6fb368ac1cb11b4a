"""The unified telemetry schema (Fleet Telemetry Hub's 14 columns, seed 001).

One Arrow schema is the single definition: Parquet files, DuckDB views and
pandas frames are all projected onto it, in this column order, so nothing
downstream depends on the order a transform happened to produce (DuckDB's
IO-manager insert is positional). The ``date`` partition column is *not*
stored in the files: it lives in the Hive directory name
(``date=YYYY-MM-DD``), which is what DuckDB, Polars, pandas and BigQuery
external tables expect.
"""

from __future__ import annotations

import pyarrow as pa

TELEMETRY_SCHEMA = pa.schema(
    [
        pa.field("provider", pa.string(), nullable=False),
        pa.field("provider_vehicle_id", pa.string(), nullable=False),
        pa.field("vin", pa.string()),
        pa.field("fleet_number", pa.string()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("latitude", pa.float64(), nullable=False),
        pa.field("longitude", pa.float64(), nullable=False),
        pa.field("speed_mph", pa.float64()),
        pa.field("heading_degrees", pa.float64()),
        pa.field("engine_state", pa.string()),
        pa.field("driver_id", pa.string()),
        pa.field("driver_name", pa.string()),
        pa.field("location_description", pa.string()),
        pa.field("odometer", pa.float64()),  # miles
    ]
)

TELEMETRY_COLUMNS: tuple[str, ...] = tuple(TELEMETRY_SCHEMA.names)

PROVIDERS = ("motive", "samsara", "edge")  # the values of the ``provider`` column (the one list of them)
ENGINE_STATES = ("On", "Off", "Idle")

MPH_PER_KPH = 0.621371192237334
METERS_PER_MILE = 1609.344


def empty_telemetry_table() -> pa.Table:
    return TELEMETRY_SCHEMA.empty_table()


def conform(table: pa.Table, schema: pa.Schema = TELEMETRY_SCHEMA) -> pa.Table:
    """Project and cast ``table`` onto ``schema`` (exact columns, exact order).

    Raises ``ValueError`` naming missing or unexpected columns instead of
    letting a positional writer put values into the wrong columns.
    """
    missing = [name for name in schema.names if name not in table.column_names]
    extra = [name for name in table.column_names if name not in schema.names]
    if missing or extra:
        raise ValueError(f"table does not match schema: missing={missing} unexpected={extra}")
    return table.select(schema.names).cast(schema)
