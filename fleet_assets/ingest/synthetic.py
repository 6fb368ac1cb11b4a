"""Deterministic synthetic trips (chunks + manifest) for tests and benchmarks.

A straight drive with a stop in the middle and one DTC, encoded exactly as an
edge collector would (``fleet_protocol.encode_chunk``), so anything accepted
here is accepted from a real device and vice versa.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from fleet_protocol import DtcRecord, EdgeEvent, TripManifest, encode_chunk, sha256_hex


@dataclass(frozen=True)
class SyntheticTrip:
    manifest: TripManifest
    chunks: dict[int, bytes]
    records: list

    @property
    def trip_id(self) -> str:
        return self.manifest.trip_id

    def create_body(self) -> dict:
        return {"vin": self.manifest.vin, "trip_id": self.trip_id, "started_at": _z(self.manifest.started_at)}

    def manifest_json(self) -> dict:
        return self.manifest.model_dump(mode="json")


def synthetic_records(vin: str, trip_id: str, started_at: datetime, n_records: int, *, dtc_at: int | None = None):
    """``n_records`` one-second samples; seq ``dtc_at`` (default: middle) is a DTC."""
    dtc_at = dtc_at if dtc_at is not None else max(1, n_records // 2)
    records = []
    for seq in range(1, n_records + 1):
        ts = started_at + timedelta(seconds=seq - 1)
        if seq == dtc_at:
            records.append(DtcRecord(kind="dtc", vin=vin, trip_id=trip_id, seq=seq, ts=ts, code="P0301",
                                     description="Cylinder 1 misfire detected"))
            continue
        phase = (seq % 600) / 600
        speed = 0.0 if 0.45 < phase < 0.5 else 60 + 30 * math.sin(phase * math.pi)
        records.append(
            EdgeEvent(
                vin=vin, trip_id=trip_id, seq=seq, ts=ts,
                lat=49.5 + seq * 1e-4, lon=8.6 + seq * 1e-4,
                speed_kph=round(speed, 2), rpm=800.0 if speed == 0 else 1500 + speed * 20,
                coolant_c=85.0, throttle_pos=0.2, soc_pct=None,
                fuel_level_pct=round(max(0.0, 60 - seq * 0.001), 3),  # long benchmark trips run dry, not negative
            )
        )
    return records


def synthetic_trip(
    vin: str,
    trip_id: str,
    started_at: datetime,
    n_records: int = 50,
    *,
    per_chunk: int = 20,
) -> SyntheticTrip:
    records = synthetic_records(vin, trip_id, started_at, n_records)
    return trip_from_records(vin, trip_id, started_at, records, per_chunk=per_chunk)


def trip_from_records(vin, trip_id, started_at, records, *, per_chunk: int = 900) -> SyntheticTrip:
    chunks: dict[int, bytes] = {}
    infos = []
    for index in range(0, len(records), per_chunk):
        part = records[index:index + per_chunk]
        body = encode_chunk(part)
        no = len(chunks) + 1
        chunks[no] = body
        infos.append({"no": no, "first_seq": part[0].seq, "last_seq": part[-1].seq,
                      "size_bytes": len(body), "sha256": sha256_hex(body)})
    manifest = TripManifest(
        vin=vin, trip_id=trip_id, started_at=started_at,
        ended_at=records[-1].ts if records else started_at,
        event_count=len(records), chunks=infos,
    )
    return SyntheticTrip(manifest=manifest, chunks=chunks, records=records)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def _z(value: datetime) -> str:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
