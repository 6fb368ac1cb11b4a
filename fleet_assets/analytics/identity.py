"""Vehicle → IcsAnalytics (device, vehicle, fleet, organization) ids.

IcsAnalytics identifies a data source by four 32-bit ints; our datasets know
vehicles by VIN (or provider + provider vehicle id when the VIN is unknown).
Explicit mappings win; otherwise ids are a stable hash of the vehicle key, so
the same vehicle always lands in the same configuration on every machine and
every run (no lookup table to lose) while fleet/org come from the resource.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

INT32_MAX = 2**31 - 1


@dataclass(frozen=True, order=True)
class VehicleIds:
    device_id: int
    vehicle_id: int
    fleet_id: int
    organization_id: int

    def as_input(self) -> dict[str, int]:
        return {"deviceId": self.device_id, "fleetId": self.fleet_id,
                "organizationId": self.organization_id, "vehicleId": self.vehicle_id}


def stable_int32(text: str) -> int:
    """A positive 31-bit id derived from ``text`` (GraphQL Int is 32-bit signed)."""
    value = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big") & INT32_MAX
    return value or 1


def resolve_vehicle_ids(vehicle_key: str, overrides: dict[str, VehicleIds], fleet_id: int,
                        organization_id: int) -> VehicleIds:
    """Explicit mapping for ``vehicle_key`` if configured, else the stable-hash default."""
    if vehicle_key in overrides:
        return overrides[vehicle_key]
    hashed = stable_int32(vehicle_key)
    return VehicleIds(device_id=hashed, vehicle_id=hashed, fleet_id=fleet_id, organization_id=organization_id)
