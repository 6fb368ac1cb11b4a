"""One provider-day from raw storage to deduplicated unified rows (no Dagster, no writes)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.days import in_day
from fleet_assets.storage.raw_store import RawFetch
from fleet_assets.transforms import dedup_telemetry, normalize_motive, normalize_samsara
from fleet_assets.transforms.common import parse_utc
from fleet_assets.transforms.wire import ndjson_to_table

_MOTIVE_TS = pa.schema([("vehicle_location", pa.struct([("located_at", pa.string())]))])
_SAMSARA_TS = pa.schema([("gps", pa.list_(pa.struct([("time", pa.string())])))])


@dataclass(frozen=True)
class NormalizedDay:
    table: pa.Table
    duplicates: int
    raw_points_in_day: int  # counted independently of the transform, for the row-count check
    raw_points_total: int


def _raw_points(provider: str, raw: RawFetch, day: str) -> tuple[int, int]:
    if provider == "motive":
        t = ndjson_to_table(raw.files["locations"], _MOTIVE_TS, "motive vehicle_location")
        ts = pc.struct_field(t["vehicle_location"], "located_at") if t.num_rows else pa.chunked_array([], pa.string())
    else:
        t = ndjson_to_table(raw.files["stats"], _SAMSARA_TS, "samsara stats history")
        ts = pc.struct_field(pc.list_flatten(t["gps"]), "time") if t.num_rows else pa.chunked_array([], pa.string())
    parsed = parse_utc(ts, f"{provider} point")
    return int(pc.sum(in_day(parsed, day)).as_py() or 0), len(parsed)


def normalize_provider_day(provider: str, raw: RawFetch, day: str) -> NormalizedDay:
    if provider == "motive":
        table = normalize_motive(raw.files["vehicles"], raw.files["locations"], day, units=raw.manifest.get("units"))
    elif provider == "samsara":
        table = normalize_samsara(raw.files["stats"], raw.files["assignments"], day)
    else:
        raise ValueError(f"unknown provider {provider!r}")
    deduped = dedup_telemetry(table)
    in_day_count, total = _raw_points(provider, raw, day)
    return NormalizedDay(deduped.table, deduped.duplicates, in_day_count, total)
