"""Typed, tolerant views of the provider wire records (pydantic v2).

The clients hand raw dicts to the pipeline (it stores the wire truth), but
every page is validated through these models first, so a malformed record is
caught at the edge with a clear error. Tolerance rules (Samsara's published OpenAPI
spec, https://developers.samsara.com/openapi/samsara-api.json, and the Motive API reference, developer.gomotive.com):
unknown fields are kept, enum-like fields are *open strings* (an unknown
``assignmentType`` or location ``type`` is logged once, never fatal), Samsara
``endTime`` may be absent (open-ended) and ``assignedAtTime: ""`` means None.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

log = logging.getLogger(__name__)
_reported: set[tuple[str, str]] = set()


def _open_enum(kind: str, known: frozenset[str], value: Any) -> Any:
    """Accept any string; log each unknown value once per process (case-insensitive match)."""
    if isinstance(value, str) and value.lower() not in known and (kind, value) not in _reported:
        _reported.add((kind, value))
        log.info("unknown %s value %r accepted as-is", kind, value)
    return value


def _blank_to_none(value: Any) -> Any:
    return None if value == "" else value


class _Wire(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def fix_wire(self, raw: dict) -> None:
        """Bring the stored wire record in line with what validation accepted (nothing by default)."""


def _scalars_as_strings(value: Any) -> Any:
    """``externalIds``: the Samsara SDK types it ``Dict[str, Any]``; any JSON scalar is kept as a string
    (true/false, numbers as written), null drops the key, an object or array is invalid."""
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if item is None:
            continue
        if isinstance(item, (dict, list)):
            raise ValueError(f"externalIds[{key!r}] is a JSON {type(item).__name__}, expected a scalar")
        out[key] = item if isinstance(item, str) else json.dumps(item)
    return out


class _ExternalIds(_Wire):
    externalIds: dict[str, str] = Field(default_factory=dict)

    _scalars = field_validator("externalIds", mode="before")(_scalars_as_strings)

    def fix_wire(self, raw: dict) -> None:
        """Store the stringified ids, so the Arrow reader sees one type per key."""
        if "externalIds" in raw and raw["externalIds"] != self.externalIds:
            raw["externalIds"] = dict(self.externalIds)


# --- Motive -----------------------------------------------------------------

MOTIVE_LOCATION_TYPES = frozenset({"breadcrumb", "vehicle_stopped", "vehicle_moving", "ignition_on", "ignition_off",
                                   "engine_start", "engine_stop", "gps_moving", "gps_stopped", "vehicle_driving"})
MOTIVE_VEHICLE_STATUSES = frozenset({"active", "inactive", "deactivated"})
MOTIVE_ROLES = frozenset({"driver", "admin", "fleet_manager", "safety_manager", "fleet_user"})


class MotivePagination(_Wire):
    per_page: int = Field(ge=1)
    page_no: int = Field(ge=1)
    total: int = Field(ge=0)


class MotiveDriver(_Wire):
    id: int
    first_name: str | None = None
    last_name: str | None = None
    role: str | None = None

    _role = field_validator("role")(lambda v: _open_enum("motive driver role", MOTIVE_ROLES, v))


class MotiveVehicle(_Wire):
    id: int
    number: str | None = None
    vin: str | None = None
    status: str | None = None
    metric_units: bool = False
    current_driver: MotiveDriver | None = None

    _status = field_validator("status")(lambda v: _open_enum("motive vehicle status", MOTIVE_VEHICLE_STATUSES, v))


class MotiveVehicleLocation(_Wire):
    id: str
    located_at: AwareDatetime  # Motive may answer non-UTC offsets (+09:00); always parse them
    lat: float
    lon: float
    type: str | None = None
    speed: float | None = None
    bearing: float | None = None
    odometer: float | None = None
    true_odometer: float | None = None
    description: str | None = None
    driver: MotiveDriver | None = None

    _type = field_validator("type")(lambda v: _open_enum("motive location type", MOTIVE_LOCATION_TYPES, v))


# --- Samsara ----------------------------------------------------------------

SAMSARA_ENGINE_STATES = frozenset({"on", "off", "idle"})
SAMSARA_ASSIGNMENT_TYPES = frozenset(t.lower() for t in (
    "HOS", "dispatch", "manual", "static", "idCard", "faceId", "tachograph", "safetyManual", "RFID", "trailer",
    "external", "qrCode", "driverApp", "voiceSignIn", "smartAssign", "invalid", "unknown"))


class SamsaraPagination(_Wire):
    endCursor: str | None = None  # terminal pages carry "" (or omit it)
    hasNextPage: bool


class SamsaraEngineState(_Wire):
    time: AwareDatetime
    value: str

    _value = field_validator("value")(lambda v: _open_enum("samsara engine state", SAMSARA_ENGINE_STATES, v))


class SamsaraOdometer(_Wire):
    time: AwareDatetime
    value: float


class SamsaraGps(_Wire):
    time: AwareDatetime
    latitude: float
    longitude: float
    headingDegrees: float | None = None
    speedMilesPerHour: float | None = None
    isEcuSpeed: bool | None = None


class SamsaraStatsRecord(_ExternalIds):
    id: str
    name: str | None = None
    engineStates: list[SamsaraEngineState] = Field(default_factory=list)
    gps: list[SamsaraGps] = Field(default_factory=list)
    obdOdometerMeters: list[SamsaraOdometer] = Field(default_factory=list)


class SamsaraRef(_Wire):
    id: str
    name: str | None = None


class SamsaraAssignment(_Wire):
    driver: SamsaraRef | None = None
    vehicle: SamsaraRef
    startTime: AwareDatetime
    endTime: AwareDatetime | None = None  # absent / "" = open-ended
    assignedAtTime: AwareDatetime | None = None
    assignmentType: str | None = None
    isPassenger: bool = False

    _blank = field_validator("endTime", "assignedAtTime", mode="before")(_blank_to_none)
    _type = field_validator("assignmentType")(
        lambda v: _open_enum("samsara assignmentType", SAMSARA_ASSIGNMENT_TYPES, v))


class SamsaraVehicle(_ExternalIds):
    id: str
    name: str | None = None
    vin: str | None = None


def parse_instant(value: str) -> datetime:
    """RFC 3339 / ISO 8601 with ``Z`` or an offset -> aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
