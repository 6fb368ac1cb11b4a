"""Per-device API keys.

The keys file stores only the sha256 of each key, so a leaked keys file (or a
log line) never reveals a usable key. Format::

    {"devices": [{"device": "van-07", "key_sha256": "<hex>", "vins": ["1FTFW1E50PFA00001"]}]}

With ``FLEET_STATE_URL`` the same digests live in Postgres (``ingest_devices``),
so every replica sees a key as soon as ``add-key`` has stored it.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet_protocol import validate_vin

from fleet_assets.ingest.errors import IngestError


@dataclass(frozen=True)
class Device:
    name: str
    vins: frozenset[str]

    def require_vin(self, vin: str) -> None:
        if vin not in self.vins:
            raise IngestError(403, "forbidden_vin", f"device {self.name!r} may not write trips of vin {vin}")

    def require_trip(self, trip: dict) -> None:
        """Like ``require_vin`` for a stored trip, but the message never names its VIN.

        The caller did not send that VIN (it came from another device's trip.json),
        so naming it would disclose another vehicle's identity to any key holder.
        """
        if trip["vin"] not in self.vins:
            raise IngestError(403, "forbidden_trip", f"device {self.name!r} may not write trip {trip['trip_id']}")


class KeyRing:
    """sha256(key) → Device: from a keys file (``load``) or the shared state (``from_state``)."""

    def __init__(self, devices: dict[str, Device], lookup: Callable[[str], Device | None] | None = None):
        self._by_hash = devices
        self._lookup = lookup or devices.get

    @classmethod
    def from_state(cls, state) -> "KeyRing":
        """Keys in the shared state (``PostgresState``), looked up per request: new devices need no restart."""

        def lookup(digest: str) -> Device | None:
            found = state.device_by_hash(digest)
            return None if found is None else Device(found[0], frozenset(found[1]))

        return cls({}, lookup)

    @classmethod
    def load(cls, path: Path | str) -> "KeyRing":
        data = json.loads(Path(path).read_text())
        devices = {}
        for entry in data.get("devices", []):
            digest = str(entry["key_sha256"]).lower()
            if len(digest) != 64:
                raise ValueError(f"keys file {path}: key_sha256 of device {entry.get('device')!r} is not 64 hex chars")
            devices[digest] = Device(entry["device"], frozenset(validate_vin(v) for v in entry["vins"]))
        return cls(devices)

    def authenticate(self, authorization: str | None) -> Device:
        """The device behind an ``Authorization: Bearer <key>`` header, or 401."""
        if not authorization:
            raise IngestError(401, "unauthorized", "missing Authorization: Bearer <api key> header")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise IngestError(401, "unauthorized", "Authorization header must be 'Bearer <api key>'")
        device = self._lookup(hash_key(token.strip()))
        if device is None:
            raise IngestError(401, "unauthorized", "unknown API key")
        return device


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return secrets.token_urlsafe(32)


def add_device(path: Path | str, device: str, vins: list[str], *, state=None) -> str:
    """Add a device with a fresh key (to ``state`` when given, else the keys file); return the key (shown once)."""
    vins = [validate_vin(v) for v in vins]
    key = new_key()
    if state is not None:
        state.add_device(hash_key(key), device, vins)
        return key
    path = Path(path)
    data = json.loads(path.read_text()) if path.exists() else {"devices": []}
    data["devices"].append({"device": device, "key_sha256": hash_key(key), "vins": vins})
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)
    return key
