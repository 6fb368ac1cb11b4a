"""One provider-day from raw storage to deduplicated unified rows, shard by shard (no Dagster, no writes).

A stored fetch holds ``raw.shards`` shards (``transforms.shards``); each is
parsed, normalised and deduplicated on its own, so memory is one shard's, and
the result is the same as for the whole day: a vehicle's points, readings and
assignments are all in its shard, and dedup keys never cross shards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.days import in_day
from fleet_assets.storage.raw_store import RawFetch
from fleet_assets.transforms import dedup_telemetry, normalize_motive, normalize_samsara
from fleet_assets.transforms.common import parse_utc
from fleet_assets.transforms.motive import motive_vehicles_table
from fleet_assets.transforms.wire import ndjson_to_table

_MOTIVE_TS = pa.schema([("vehicle_location", pa.struct([("located_at", pa.string())]))])
_SAMSARA_TS = pa.schema([("gps", pa.list_(pa.struct([("time", pa.string())])))])


@dataclass(frozen=True)
class NormalizedDay:
    table: pa.Table
    duplicates: int
    raw_points_in_day: int  # counted independently of the transform, for the row-count check
    raw_points_total: int


def _raw_points(provider: str, points: bytes, day: str) -> tuple[int, int]:
    if provider == "motive":
        t = ndjson_to_table(points, _MOTIVE_TS, "motive vehicle_location")
        ts = pc.struct_field(t["vehicle_location"], "located_at") if t.num_rows else pa.chunked_array([], pa.string())
    else:
        t = ndjson_to_table(points, _SAMSARA_TS, "samsara stats history")
        ts = pc.struct_field(pc.list_flatten(t["gps"]), "time") if t.num_rows else pa.chunked_array([], pa.string())
    parsed = parse_utc(ts, f"{provider} point")
    return int(pc.sum(in_day(parsed, day)).as_py() or 0), len(parsed)


def normalize_provider_shards(provider: str, raw: RawFetch, day: str) -> Iterator[NormalizedDay]:
    """Shard ``k`` of the day for ``k`` in ``range(raw.shards)``, each deduplicated."""
    if provider == "motive":
        vehicles = motive_vehicles_table(raw.read("vehicles"))  # small: every shard needs the fleet list
        units = raw.manifest.get("units")
    elif provider != "samsara":
        raise ValueError(f"unknown provider {provider!r}")
    for k in range(raw.shards):
        if provider == "motive":
            points = raw.shard("locations", k)
            table = normalize_motive(vehicles, points, day, units=units)
        else:
            points = raw.shard("stats", k)
            table = normalize_samsara(points, raw.shard("assignments", k), day)
        deduped = dedup_telemetry(table)
        in_day_count, total = _raw_points(provider, points, day)
        yield NormalizedDay(deduped.table, deduped.duplicates, in_day_count, total)


