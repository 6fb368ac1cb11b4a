"""Provider fetches for one UTC day, turned into raw NDJSON files + a manifest.

Windows (Motive API reference, developer.gomotive.com, "Vehicle Locations" v3; Samsara API reference,
developers.samsara.com, "Get vehicle stats history", "Get driver-vehicle assignments"):
* Motive: the UTC day; the client pads its date parameters by a day on each
  side (they may be company-local days) and keeps ``start <= located_at
  < end``; normalisation filters to the day again (defence in depth).
* Samsara stats: from one day *before* the day (so the as-of engine state of
  the first points is known) to 30 minutes after it (nearest odometer
  reading within +-1800 s); assignments: the day itself (overlap-anchored).
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


def fetch_motive_day(client, day: str) -> RawDay:
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
    files = {"vehicles": records_to_ndjson(vehicles), "locations": records_to_ndjson(locations)}
    _add_quarantine(client, files, counts)
    manifest = _manifest(client, "motive", day, window, counts)
    manifest["units"] = result.units  # what X-Metric-Units asked for: normalisation converts on this
    return RawDay(files=files, manifest=manifest, counts=counts)


def fetch_samsara_day(client, day: str) -> RawDay:
    start, end = day_bounds(day)
    stats_window = {"start": start - SAMSARA_STATE_LOOKBACK, "end": end + SAMSARA_ODOMETER_LOOKAHEAD}
    stats = client.fetch_stats_history(stats_window["start"], stats_window["end"])
    assignments = client.fetch_driver_assignments(start, end)
    counts = {
        "vehicles": len(stats),
        "gps_points": sum(len(r.get("gps") or []) for r in stats),
        "assignments": len(assignments),
    }
    files = {"stats": records_to_ndjson(stats), "assignments": records_to_ndjson(assignments)}
    _add_quarantine(client, files, counts)
    window = {**stats_window, "assignments_start": start, "assignments_end": end}
    return RawDay(files=files, manifest=_manifest(client, "samsara", day, window, counts), counts=counts)
