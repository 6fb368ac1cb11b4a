"""Provider fetches for one UTC day, turned into raw NDJSON files + a manifest.

Windows (Motive API reference, developer.gomotive.com, "Vehicle Locations" v3; Samsara API reference,
developers.samsara.com, "Get vehicle stats history", "Get driver-vehicle assignments"):
* Motive: the UTC day; the client pads its date parameters by a day on each
  side (they may be company-local days) and keeps ``start <= located_at
  < end``; normalisation filters to the day again (defence in depth).
* Samsara stats: from one day *before* the day (so the as-of engine state of
  the first points is known) to 30 minutes after it (nearest odometer
  reading within +-1800 s); assignments: the day itself (overlap-anchored).
Large days are stored in shards (``transforms.shards``): the per-vehicle
files (Motive locations, Samsara stats and assignments) are split by the
vehicle's dedup identity into ``N`` files named ``<name>_<k>`` (``N`` from the
day's point count, recorded as ``shards`` in the manifest; ``N = 1`` keeps the
plain names), so normalisation reads one shard at a time. (The fetch itself
still holds the day's records: the clients page into lists.)
Nothing here writes: the asset stores the result only once every request
succeeded, so a failed fetch leaves the previous raw data untouched.
Records that failed validation were quarantined by the client (the rest of
their page went through); they are stored raw, with the reason, as the
``quarantine`` file of the same fetch and counted as ``quarantined``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fleet_assets.days import day_bounds
from fleet_assets.storage.raw_store import shard_file
from fleet_assets.transforms.shards import SHARD_ROWS, identity_shards, shard_count
from fleet_assets.transforms.wire import motive_location_records, motive_vehicle_records, records_to_ndjson

SAMSARA_STATE_LOOKBACK = timedelta(days=1)
SAMSARA_ODOMETER_LOOKAHEAD = timedelta(minutes=30)


class IncompleteFetchError(RuntimeError):
    """The provider answered for only part of the fleet; storing it would lose data silently."""


@dataclass
class RawDay:
    files: dict[str, bytes]
    manifest: dict
    counts: dict[str, int] = field(default_factory=dict)


@contextlib.contextmanager
def open_client(resource):
    """``resource.get_client()``, entered as a context manager when it is one."""
    client = resource.get_client()
    if hasattr(client, "__enter__"):
        with client as entered:
            yield entered
    else:
        yield client


def _manifest(client, provider: str, day: str, window: dict[str, datetime], counts: dict[str, int]) -> dict:
    """What was fetched, when, from where; ``sandbox`` is true when the sandbox answered (simulated data)."""
    return {
        "provider": provider,
        "day": day,
        "fetched_at": datetime.now(UTC).isoformat(),
        "window": {k: v.isoformat() for k, v in window.items()},
        "counts": counts,
        "sandbox": bool(getattr(client, "served_by_sandbox", False)),
        "source": getattr(client, "source", None),
    }


def _add_quarantine(client, files: dict[str, bytes], counts: dict[str, int]) -> None:
    """Move the client's quarantined records into the fetch (a file only when there are any)."""
    taken = client.take_quarantined() if hasattr(client, "take_quarantined") else []
    counts["quarantined"] = len(taken)
    if taken:
        files["quarantine"] = records_to_ndjson(taken)


def _sharded(name: str, records: list[dict], shard_of, shards: int) -> dict[str, bytes]:
    """NDJSON file(s) of ``records``: one per shard (``shard_of(record)``), input order kept inside each."""
    if shards == 1:
        return {name: records_to_ndjson(records)}
    parts: list[list[dict]] = [[] for _ in range(shards)]
    for record in records:
        parts[shard_of(record)].append(record)
    return {shard_file(name, k, shards): records_to_ndjson(part) for k, part in enumerate(parts)}


def _shard_lookup(provider: str, by_id: dict[str, int], shards: int):
    """Shard of a provider vehicle id; ids without a vehicle record have no VIN: ``provider:id``."""
    def shard(vehicle_id: str) -> int:
        found = by_id.get(vehicle_id)
        return found if found is not None else identity_shards(provider, [vehicle_id], [None], shards)[vehicle_id]
    return shard


def motive_raw_files(vehicles: list[dict], locations: list[dict], shard_rows: int = SHARD_ROWS) -> tuple[dict[str, bytes], int]:
    """The raw files of a Motive day (``vehicles`` whole, ``locations`` per shard) and the shard count."""
    shards = shard_count(len(locations), shard_rows)
    by_id = identity_shards("motive", [str(v.get("id")) for v in vehicles], [v.get("vin") for v in vehicles], shards)
    shard = _shard_lookup("motive", by_id, shards)
    files = {"vehicles": records_to_ndjson(vehicles),
             **_sharded("locations", locations, lambda r: shard(str(r.get("vehicle_id"))), shards)}
    return files, shards


def samsara_raw_files(stats: list[dict], assignments: list[dict], shard_rows: int = SHARD_ROWS) -> tuple[dict[str, bytes], int]:
    """The raw files of a Samsara day (stats and assignments per shard, by the vehicle's identity) and the shard count."""
    shards = shard_count(sum(len(r.get("gps") or []) for r in stats), shard_rows)
    by_id = identity_shards("samsara", [str(r.get("id")) for r in stats],
                            [(r.get("externalIds") or {}).get("samsara.vin") for r in stats], shards)
    shard = _shard_lookup("samsara", by_id, shards)
    files = {**_sharded("stats", stats, lambda r: shard(str(r.get("id"))), shards),
             **_sharded("assignments", assignments, lambda r: shard(str((r.get("vehicle") or {}).get("id"))), shards)}
    return files, shards


def fetch_motive_day(client, day: str, shard_rows: int = SHARD_ROWS) -> RawDay:
    start, end = day_bounds(day)
    window = {"start": start, "end": end}
    result = client.fetch_vehicle_locations(window["start"], window["end"])
    failed = sorted(str(v) for v in (getattr(result, "failed_vehicle_ids", None) or []))
    if failed:
        raise IncompleteFetchError(
            f"motive: locations of {len(failed)} vehicle(s) could not be fetched for {day} "
            f"({', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}); nothing stored, retry the partition"
        )
    vehicles = motive_vehicle_records(result.vehicles)
    locations = motive_location_records(result.locations)
    counts = {"vehicles": len(vehicles), "locations": len(locations)}
    files, shards = motive_raw_files(vehicles, locations, shard_rows)
    _add_quarantine(client, files, counts)
    manifest = _manifest(client, "motive", day, window, counts)
    manifest["shards"] = shards
    manifest["units"] = result.units  # what X-Metric-Units asked for: normalisation converts on this
    return RawDay(files=files, manifest=manifest, counts=counts)


def fetch_samsara_day(client, day: str, shard_rows: int = SHARD_ROWS) -> RawDay:
    start, end = day_bounds(day)
    stats_window = {"start": start - SAMSARA_STATE_LOOKBACK, "end": end + SAMSARA_ODOMETER_LOOKAHEAD}
    stats = client.fetch_stats_history(stats_window["start"], stats_window["end"])
    assignments = client.fetch_driver_assignments(start, end)
    counts = {
        "vehicles": len(stats),
        "gps_points": sum(len(r.get("gps") or []) for r in stats),
        "assignments": len(assignments),
    }
    files, shards = samsara_raw_files(stats, assignments, shard_rows)
    _add_quarantine(client, files, counts)
    window = {**stats_window, "assignments_start": start, "assignments_end": end}
    manifest = _manifest(client, "samsara", day, window, counts)
    manifest["shards"] = shards
    return RawDay(files=files, manifest=manifest, counts=counts)
