"""Edge event and DTC records: one JSON object per NDJSON line.

The event shape is the v1 schema of the home fleet telemetry stack (seed 004).
Two deliberate widenings: ``lat``/``lon`` may be null (an OBD sample taken
before the first GPS fix is still worth keeping), and a line may be a DTC
record (``"kind": "dtc"``). Events and DTCs of a trip share one ``seq`` space,
so (trip_id, seq) identifies every line of a trip.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from fleet_protocol.ids import validate_trip_id, validate_vin

SCHEMA_VERSION = 1

TripId = Annotated[str, AfterValidator(validate_trip_id)]
Vin = Annotated[str, AfterValidator(validate_vin)]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    vin: Vin
    trip_id: TripId
    seq: int = Field(ge=1)
    ts: datetime

    @field_validator("ts")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("ts must carry a timezone (UTC 'Z')")
        return value.astimezone(timezone.utc)

    def to_json_dict(self) -> dict:
        """Plain dict with ``ts`` as ``YYYY-MM-DDTHH:MM:SS(.ffffff)Z``."""
        data = self.model_dump(mode="json", exclude_none=False)
        data["ts"] = format_ts(self.ts)
        return data


class EdgeEvent(_Record):
    """One fused OBD + GPS sample."""

    kind: Literal["event"] = "event"
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    speed_kph: float | None = Field(default=None, ge=0, le=500)
    rpm: float | None = Field(default=None, ge=0, le=20_000)
    coolant_c: float | None = Field(default=None, ge=-60, le=250)
    throttle_pos: float | None = Field(default=None, ge=0, le=1)
    soc_pct: float | None = Field(default=None, ge=0, le=100)
    fuel_level_pct: float | None = Field(default=None, ge=0, le=100)


class DtcRecord(_Record):
    """A diagnostic trouble code seen at ``ts`` (mode 03 stored / mode 07 pending)."""

    kind: Literal["dtc"]
    code: str = Field(pattern=r"^[PCBU][0-9A-F]{4}$")
    description: str = ""
    status: Literal["stored", "pending"] = "stored"


EdgeRecord = Annotated[Union[EdgeEvent, DtcRecord], Field(discriminator="kind")]
_RECORD_ADAPTER: TypeAdapter[EdgeEvent | DtcRecord] = TypeAdapter(EdgeRecord)


def parse_record(data: dict | str | bytes) -> EdgeEvent | DtcRecord:
    """Validate one NDJSON line (or its decoded dict). Lines without ``kind`` are events."""
    if isinstance(data, (str, bytes)):
        return _RECORD_ADAPTER.validate_json(_with_default_kind_json(data))
    if "kind" not in data:
        data = {**data, "kind": "event"}
    return _RECORD_ADAPTER.validate_python(data)


def _with_default_kind_json(line: str | bytes) -> str | bytes:
    # Seed-004 event lines carry no "kind"; the discriminator needs one.
    probe = line if isinstance(line, str) else line.decode("utf-8", "strict")
    if '"kind"' in probe:
        return line
    stripped = probe.strip()
    if stripped.startswith("{") and stripped != "{}":
        return '{"kind":"event",' + stripped[1:]
    return line


def format_ts(value: datetime) -> str:
    """UTC ISO-8601 with a ``Z`` suffix, microseconds only when present."""
    value = value.astimezone(timezone.utc)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}"
    return text + "Z"
