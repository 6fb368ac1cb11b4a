"""Import trips exported to a plain directory (USB / offline transfer).

Export layout (written by ``edge-collector upload --to-dir``)::

    <dir>/trips/<trip_id>/manifest.json
    <dir>/trips/<trip_id>/chunks/<n>.ndjson.gz

Each trip goes through the same ``service`` calls as an HTTP upload (create,
put every chunk with its sha256, complete), so it is validated identically and
importing the same directory twice is a no-op.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fleet_protocol import sha256_hex

from fleet_assets.ingest import service
from fleet_assets.ingest.errors import IngestError
from fleet_assets.ingest.landing import LandingZone


@dataclass
class ImportReport:
    imported: list[str] = field(default_factory=list)
    already_complete: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def import_dir(
    source: Path | str,
    zone: LandingZone,
    *,
    progress: Callable[[str], None] = lambda line: None,
) -> ImportReport:
    report = ImportReport()
    trips_root = Path(source) / "trips"
    if not trips_root.is_dir():
        raise FileNotFoundError(f"{source} has no trips/ folder (expected <dir>/trips/<trip_id>/manifest.json)")
    for trip_dir in sorted(p for p in trips_root.iterdir() if p.is_dir()):
        name = trip_dir.name
        try:
            created = _import_trip(trip_dir, zone)
        except (IngestError, OSError, ValueError) as exc:
            report.failed[name] = getattr(exc, "message", None) or str(exc)
            progress(f"FAILED {name}: {report.failed[name]}")
            continue
        (report.imported if created else report.already_complete).append(name)
        progress(f"{'imported' if created else 'already complete'} {name}")
    return report


def _import_trip(trip_dir: Path, zone: LandingZone) -> bool:
    trip_id = service.check_trip_id(trip_dir.name)
    manifest = json.loads((trip_dir / "manifest.json").read_bytes())
    header = {key: manifest.get(key) for key in ("vin", "trip_id", "started_at")}
    if header["trip_id"] != trip_id:
        raise IngestError(422, "manifest_mismatch", f"manifest trip_id {header['trip_id']!r} != folder {trip_id}")
    service.create_trip(zone, header, None)
    for chunk in manifest.get("chunks", []):
        number = service.check_chunk_no(chunk.get("no"))
        body = (trip_dir / "chunks" / f"{number}.ndjson.gz").read_bytes()
        service.put_chunk(zone, trip_id, number, body, sha256_hex(body), None)
    _, result = service.complete_trip(zone, trip_id, manifest, None)
    return bool(result["created"])
