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
plain names), so normalisation reads one shard at a time. The fetch never
holds the day either: the clients hand pages over as they arrive, which are
staged on local disk (``staging.RawStaging``) and read back shard by shard
once the day's size (hence ``N``) is known.
Nothing here writes to the raw store: the asset stores the pieces only once every
request succeeded, so a failed fetch leaves the previous raw data untouched.
Records that failed validation were quarantined by the client (the rest of
their page went through); they are stored raw, with the reason, as the
``quarantine`` file of the same fetch and counted as ``quarantined``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fleet_assets.days import day_bounds
from fleet_assets.provider_ingest.staging import RawStaging
from fleet_assets.providers.samsara import merge_stats
from fleet_assets.transforms.shards import SHARD_ROWS, identity_shards, shard_count
from fleet_assets.transforms.wire import motive_location_records, motive_vehicle_records, records_to_ndjson

log = logging.getLogger("fleet_assets.provider_ingest.fetch")
SAMSARA_STATE_LOOKBACK = timedelta(days=1)
SAMSARA_ODOMETER_LOOKAHEAD = timedelta(minutes=30)


class IncompleteFetchError(RuntimeError):
    """The provider answered for only part of the fleet; storing it would lose data silently."""


@dataclass
class RawDay:
    """A fetched day: its raw files come out of local staging one shard at a time, while the fetch is open."""

    files: Iterable[tuple[str, bytes]]  # (name, NDJSON) pairs, consumed once (write_raw)
    manifest: dict
    counts: dict[str, int] = field(default_factory=dict)
    ndjson_bytes: int = 0  # of the files handed out by pieces() so far

    def pieces(self) -> Iterator[tuple[str, bytes]]:
        for name, data in self.files:
            self.ndjson_bytes += len(data)
            yield name, data


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


def _quarantine(client, counts: dict[str, int]) -> list[tuple[str, bytes]]:
    """The client's quarantined records as the fetch's ``quarantine`` file (none when there are none)."""
    taken = client.take_quarantined() if hasattr(client, "take_quarantined") else []
    counts["quarantined"] = len(taken)
    return [("quarantine", records_to_ndjson(taken))] if taken else []


def _shard_lookup(provider: str, by_id: dict[str, int], shards: int):
    """Shard of a provider vehicle id; ids without a vehicle record have no VIN: ``provider:id``."""
    def shard(vehicle_id: str) -> int:
        found = by_id.get(vehicle_id)
        return found if found is not None else identity_shards(provider, [vehicle_id], [None], shards)[vehicle_id]
    return shard


def _motive_files(staging: RawStaging, vehicles: list[dict], points: int, shard_rows: int):
    """``vehicles`` whole (every shard needs the fleet list) and the staged ``locations`` per shard."""
    shards = shard_count(points, shard_rows)
    by_id = identity_shards("motive", [str(v.get("id")) for v in vehicles], [v.get("vin") for v in vehicles], shards)
    pieces = staging.pieces("locations", _shard_lookup("motive", by_id, shards), shards)
    return itertools.chain([("vehicles", records_to_ndjson(vehicles))], pieces), shards


def _stats_id(record: dict) -> str:
    return str(record.get("id"))


def _assigned_id(record: dict) -> str:
    return str((record.get("vehicle") or {}).get("id"))


def _samsara_vin(record: dict) -> str | None:
    return (record.get("externalIds") or {}).get("samsara.vin")


def _samsara_files(staging: RawStaging, ids: list[str], vins: list[str | None], points: int, shard_rows: int):
    """The staged ``stats`` and ``assignments`` per shard, by the identity of each record's vehicle id."""
    shards = shard_count(points, shard_rows)
    shard = _shard_lookup("samsara", identity_shards("samsara", ids, vins, shards), shards)
    return itertools.chain(staging.pieces("stats", shard, shards), staging.pieces("assignments", shard, shards)), shards


def motive_raw_files(vehicles: list[dict], locations: list[dict], shard_rows: int = SHARD_ROWS) -> tuple[dict[str, bytes], int]:
    """The raw files of a Motive day (``vehicles`` whole, ``locations`` per shard) and the shard count."""
    with RawStaging() as staging:
        staging.add_runs("locations", locations, lambda r: str(r.get("vehicle_id")))
        files, shards = _motive_files(staging, vehicles, len(locations), shard_rows)
        return dict(files), shards


def samsara_raw_files(stats: list[dict], assignments: list[dict], shard_rows: int = SHARD_ROWS) -> tuple[dict[str, bytes], int]:
    """The raw files of a Samsara day (stats and assignments per shard, by the vehicle's identity) and the shard count."""
    with RawStaging() as staging:
        staging.add_runs("stats", stats, _stats_id)
        staging.add_runs("assignments", assignments, _assigned_id)
        files, shards = _samsara_files(staging, [_stats_id(r) for r in stats], [_samsara_vin(r) for r in stats],
                                       sum(len(r.get("gps") or []) for r in stats), shard_rows)
        return dict(files), shards


@contextlib.contextmanager
def fetch_motive_day(client, day: str, shard_rows: int = SHARD_ROWS) -> Iterator[RawDay]:
    """The day's Motive pages staged as they arrive; yields the day to store (``files`` valid inside the block)."""
    start, end = day_bounds(day)
    window = {"start": start, "end": end}
    with RawStaging() as staging:
        vehicles: list[dict] = []
        failed: list[str] = []
        points = 0
        for n, page in enumerate(client.iter_vehicle_locations(window["start"], window["end"])):
            if page.vehicle_ids is not None:
                vehicles = motive_vehicle_records(page.vehicles)
            elif page.error is not None:
                failed.append(str(page.vehicle_id))
            else:  # listing order back (pages come in completion order), then arrival within a vehicle
                staging.add("locations", page.vehicle_id, motive_location_records({page.vehicle_id: page.locations}),
                            key=(page.index, n))
                points += len(page.locations)
        if failed:
            failed.sort()
            raise IncompleteFetchError(
                f"motive: locations of {len(failed)} vehicle(s) could not be fetched for {day} "
                f"({', '.join(failed[:10])}{' ...' if len(failed) > 10 else ''}); nothing stored, retry the partition"
            )
        counts = {"vehicles": len(vehicles), "locations": points}
        files, shards = _motive_files(staging, vehicles, points, shard_rows)
        quarantine = _quarantine(client, counts)
        manifest = _manifest(client, "motive", day, window, counts)
        manifest["shards"] = shards
        manifest["units"] = client.units  # what X-Metric-Units asked for: normalisation converts on this
        yield RawDay(files=itertools.chain(files, quarantine), manifest=manifest, counts=counts)


@contextlib.contextmanager
def fetch_samsara_day(client, day: str, shard_rows: int = SHARD_ROWS) -> Iterator[RawDay]:
    """The day's Samsara pages staged as they arrive; a vehicle's records from several pages are merged as the
    client's ``fetch_stats_history`` merges them (``merge_stats``), one vehicle at a time."""
    start, end = day_bounds(day)
    stats_window = {"start": start - SAMSARA_STATE_LOOKBACK, "end": end + SAMSARA_ODOMETER_LOOKAHEAD}
    with RawStaging() as staging:
        for page in client.iter_stats_pages(stats_window["start"], stats_window["end"]):
            for record in page:
                staging.stash("pages", _stats_id(record), record)
        ids, vins, points, dropped = [], [], 0, 0
        for vehicle_id, records in staging.groups("pages"):
            (merged,), n = merge_stats([records])
            staging.add("stats", vehicle_id, [merged])
            ids.append(vehicle_id)
            vins.append(_samsara_vin(merged))
            points += len(merged.get("gps") or [])
            dropped += n
        log.info("samsara: stats %s..%s: %d vehicle(s), %d point(s)%s", stats_window["start"], stats_window["end"],
                 len(ids), points, f", {dropped} duplicate reading(s) dropped" if dropped else "")
        assignments = 0
        for page in client.iter_driver_assignments(start, end):
            staging.add_runs("assignments", page, _assigned_id)
            assignments += len(page)
        counts = {"vehicles": len(ids), "gps_points": points, "assignments": assignments}
        files, shards = _samsara_files(staging, ids, vins, points, shard_rows)
        quarantine = _quarantine(client, counts)
        window = {**stats_window, "assignments_start": start, "assignments_end": end}
        manifest = _manifest(client, "samsara", day, window, counts)
        manifest["shards"] = shards
        yield RawDay(files=itertools.chain(files, quarantine), manifest=manifest, counts=counts)
