"""A provider-day from raw storage to deduplicated unified rows, shard by shard (no Dagster).

A stored fetch holds ``raw.shards`` shards (``transforms.shards``); each is
parsed, normalised and deduplicated on its own, so memory is one shard's, and
the result is the same as for the whole day: a vehicle's points, readings and
assignments are all in its shard, and dedup keys never cross shards. Shards
therefore also run in parallel worker processes (``workers``): the caller reads
each shard's gzip bytes from the store and a worker does the CPU-bound rest
(gunzip, parse, normalize, dedup); results come back in shard order.

:class:`TelemetryFromRaw` is the whole streamed day: both providers' raw shards ->
telemetry rows shard by shard, for one atomic publish by the caller.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.days import in_day
from fleet_assets.provider_ingest.workers import hand_over, ordered_map, spill_dir, taken, worker_count
from fleet_assets.storage.objects import StoreDir
from fleet_assets.storage.raw_store import RawFetch, gunzip, read_raw
from fleet_assets.transforms import dedup_telemetry, normalize_motive, normalize_samsara
from fleet_assets.transforms.common import parse_utc
from fleet_assets.transforms.motive import motive_locations_table, motive_vehicles_table
from fleet_assets.transforms.wire import SAMSARA_ASSIGNMENT_SCHEMA, SAMSARA_STATS_SCHEMA, as_table, ndjson_to_table

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


def _provider_shard(work: tuple) -> NormalizedDay:
    """One provider shard from its gzip files (runs in a worker process or in the caller's)."""
    provider, day, vehicles, units, gz, spill = work
    if provider == "motive":
        points = gunzip(gz["locations"])
        table = normalize_motive(vehicles, points, day, units=units)
    else:
        points = gunzip(gz["stats"])
        table = normalize_samsara(points, gunzip(gz["assignments"]), day)
    deduped = dedup_telemetry(table)
    in_day_count, total = _raw_points(provider, points, day)
    return NormalizedDay(hand_over(deduped.table, spill), deduped.duplicates, in_day_count, total)


_FILES = {"motive": ("locations",), "samsara": ("stats", "assignments")}


def normalize_provider_shards(provider: str, raw: RawFetch, day: str, workers: int = 1) -> Iterator[NormalizedDay]:
    """Shard ``k`` of the day for ``k`` in ``range(raw.shards)``, each deduplicated, computed by ``workers``
    processes (1: in this process). Close the iterator when stopping early (see ``workers.ordered_map``)."""
    if provider not in _FILES:
        raise ValueError(f"unknown provider {provider!r}")
    vehicles = motive_vehicles_table(raw.read("vehicles")) if provider == "motive" else None  # small: every shard needs it
    units = raw.manifest.get("units")
    with spill_dir(workers) as spill, contextlib.closing(ordered_map(_provider_shard, (
            (provider, day, vehicles, units, {name: raw.shard_gz(name, k) for name in _FILES[provider]}, spill)
            for k in range(raw.shards)), workers)) as results:
        for result in results:
            yield dataclasses.replace(result, table=taken(result.table))


def _telemetry_shard(work: tuple) -> tuple[pa.Table, dict]:
    """Both providers' shard -> deduplicated telemetry rows, with per-stage CPU seconds."""
    day, vehicles, units, gz, spill = work
    clock, cpu = time.process_time(), {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.process_time()
        cpu[stage] = cpu.get(stage, 0.0) + now - clock
        clock = now

    files = {name: gunzip(data) for name, data in gz.items()}
    lap("gunzip")
    ndjson_bytes = sum(map(len, files.values()))
    locations = motive_locations_table(files.pop("locations"))
    stats = as_table(files.pop("stats"), SAMSARA_STATS_SCHEMA, "samsara stats history")
    assignments = as_table(files.pop("assignments"), SAMSARA_ASSIGNMENT_SCHEMA, "samsara driver assignment")
    lap("parse")
    both = pa.concat_tables([normalize_motive(vehicles, locations, day, units=units),
                             normalize_samsara(stats, assignments, day)])
    del locations, stats, assignments
    lap("normalize")
    deduped = dedup_telemetry(both)
    lap("dedup")
    table = hand_over(deduped.table, spill)
    lap("hand_over")
    return table, {"cpu_s": cpu, "rows_in": both.num_rows, "ndjson_bytes": ndjson_bytes}


class TelemetryFromRaw:
    """Both providers' stored fetch of a day as deduplicated telemetry rows, shard by shard: the streamed day.

    ``tables()`` yields shard k's table for k in ``range(shards)``, computed by ``workers`` processes (None: one
    per CPU, at most one per shard; 1: in this process); publish them with ``storage.publish.publish_shards``
    (``shard_count=shards``) or append them to a ``partition_writer``. The providers must be stored with the
    same shard count. A bad raw file in any shard, in any worker, raises with the same message as in process;
    the caller's publish then publishes nothing. Counts and per-stage CPU seconds (gunzip, parse, normalize,
    dedup and hand-over, summed over the workers) fill in as the tables are consumed.
    """

    def __init__(self, raw_dir: StoreDir | str | Path, day: str, *, workers: int | None = None):
        self.day = day
        self.motive, self.samsara = read_raw(raw_dir, "motive", day), read_raw(raw_dir, "samsara", day)
        self.shards = self.motive.shards
        if self.samsara.shards != self.shards:
            raise ValueError(f"motive and samsara fetches of {day} are stored in {self.shards} and "
                             f"{self.samsara.shards} shards; re-fetch one so both match")
        self.workers = worker_count(self.shards, workers)
        self.rows_in = self.ndjson_bytes = 0
        self.cpu_s = dict.fromkeys(("gunzip", "parse", "normalize", "dedup", "hand_over"), 0.0)

    def tables(self) -> Iterator[pa.Table]:
        """Close it when stopping early (``contextlib.closing``): that ends the worker processes at once."""
        vehicles = motive_vehicles_table(self.motive.read("vehicles"))
        units = self.motive.manifest.get("units")
        with spill_dir(self.workers) as spill:
            work = ((self.day, vehicles, units, {"locations": self.motive.shard_gz("locations", k),
                                                 "stats": self.samsara.shard_gz("stats", k),
                                                 "assignments": self.samsara.shard_gz("assignments", k)}, spill)
                    for k in range(self.shards))
            with contextlib.closing(ordered_map(_telemetry_shard, work, self.workers)) as results:
                for table, stats in results:
                    for stage, seconds in stats["cpu_s"].items():
                        self.cpu_s[stage] += seconds
                    self.rows_in += stats["rows_in"]
                    self.ndjson_bytes += stats["ndjson_bytes"]
                    yield taken(table)
