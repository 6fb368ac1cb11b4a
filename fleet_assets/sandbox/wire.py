"""Render simulated vehicles and tracks in the providers' exact wire shapes
(Motive API reference, developer.gomotive.com: ``/v1/vehicles``, ``/v3/vehicle_locations/{id}``;
Samsara API reference, developers.samsara.com: ``/fleet/vehicles/stats/history``,
``/fleet/driver-vehicle-assignments``): Motive double-wrapped items with whole-second
``located_at`` (some vehicles answer with a -05:00 offset) and km/h + km when
metric units were asked for (or are the company setting); Samsara millisecond ``Z`` times, dotted
``externalIds`` keys, ``address`` on a minority of readings, open-ended
assignments without ``endTime`` and ``assignedAtTime: ""``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from datetime import UTC, date, datetime, timedelta, timezone

from fleet_assets.sandbox.fleet import DEPOTS, Driver, Point, SimVehicle, stable_int

KPH_PER_MPH = 1.609344
MOTIVE_COMPANY_ID = 7_000_001
_CENTRAL = timezone(timedelta(hours=-5))
ASSIGNMENT_TYPES = ("driverApp", "HOS", "static", "idCard", "smartAssign", "driverApp", "HOS", "dispatch")
# Values GET /fleet/driver-vehicle-assignments accepts in assignmentType (samsara-python docstring).
ASSIGNMENT_TYPE_FILTERS = ("HOS", "idCard", "static", "faceId", "tachograph", "safetyManual", "RFID", "trailer",
                           "external", "qrCode", "driverApp", "voiceSignIn", "smartAssign")


@lru_cache(maxsize=4096)
def _day_text(day_no: int) -> str:
    return datetime.fromtimestamp(day_no * 86400, UTC).strftime("%Y-%m-%d")


def iso_z(t: float, millis: bool = False) -> str:
    """``2026-03-02T08:15:00Z`` / ``...00.123Z`` (arithmetic, not strftime: called per reading)."""
    secs = int(t // 1)
    day_no, rem = divmod(secs, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if millis:
        ms = min(999, round((t - secs) * 1000))
        return f"{_day_text(day_no)}T{h:02d}:{m:02d}:{sec:02d}.{ms:03d}Z"
    return f"{_day_text(day_no)}T{h:02d}:{m:02d}:{sec:02d}Z"


def motive_time(v: SimVehicle, t: float) -> str:
    """Whole seconds; vehicles with index % 9 == 4 report in a -05:00 offset (same instant)."""
    t = float(int(t))
    if v.index % 9 == 4:
        return datetime.fromtimestamp(t, _CENTRAL).isoformat()
    return iso_z(t)


def place(v: SimVehicle, p: Point) -> str:
    name = DEPOTS[v.depot][0]
    return f"near {name}" if p.speed_mph > 0 else f"stopped near {name}"


def motive_driver(d: Driver) -> dict:
    return {"id": int(d.id), "first_name": d.first_name, "last_name": d.last_name,
            "username": f"{d.first_name.lower()}{d.id[-3:]}", "email": f"{d.first_name.lower()}.{d.id}@example.com",
            "driver_company_id": f"DRV-{d.id[-4:]}", "status": "active", "role": "driver"}


def motive_vehicle(seed: int, v: SimVehicle) -> dict:
    return {
        "id": int(v.provider_id), "company_id": MOTIVE_COMPANY_ID, "number": v.number,
        "status": "inactive" if v.index % 13 == 12 else "active", "ifta": True, "vin": v.vin,
        "make": ("Freightliner", "Kenworth", "Peterbilt", "Volvo")[v.index % 4], "model": "Cascadia",
        "year": str(2016 + v.index % 9), "license_plate_state": "IL", "license_plate_number": f"SB{v.index:05d}",
        "license_plate_country_code": "US", "metric_units": v.metric_units, "fuel_type": "diesel",
        "prevent_auto_odometer_entry": False, "notes": None, "group_ids": [101 + v.depot],
        "created_at": "2025-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "permanent_driver": None,
        "availability_details": {"availability_status": "in_service", "updated_at": "2026-01-01T00:00:00Z"},
        "eld_device": eld_device(v),
        "current_driver": motive_driver(v.driver) | {"email": None},
        "carb_ctc_test_enabled": None, "carb_ctc_emission_status": None, "registration_expiry_date": None,
    }


def _location_id(seed: int, vehicle_id: str, p: Point) -> str:
    """A stable UUID-4-shaped id per breadcrumb (two can share a second: keyed on exact time + type)."""
    h = hashlib.blake2b(f"{seed}|loc|{vehicle_id}|{p.t!r}|{p.kind}".encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}"


def motive_location(seed: int, v: SimVehicle, p: Point, driver: dict | None, metric: bool = False) -> dict:
    """One breadcrumb; ``driver`` is the pre-rendered ``motive_driver`` dict (shared per shift)."""
    factor = KPH_PER_MPH if metric else 1.0
    odo = round(p.odometer_miles * factor, 3)
    hours = round(odo / 40.0, 2)
    return {
        "located_at": motive_time(v, p.t), "lat": round(p.lat, 6), "lon": round(p.lon, 6),
        "id": _location_id(seed, v.provider_id, p),
        "type": p.kind, "description": place(v, p), "speed": round(p.speed_mph * factor, 1),
        "bearing": p.heading, "battery_voltage": 13.8 if p.engine != "Off" else 12.6,
        "odometer": odo, "true_odometer": odo, "engine_hours": hours, "true_engine_hours": hours, "fuel": None,
        "fuel_primary_remaining_percentage": None, "fuel_secondary_remaining_percentage": None,
        "driver": driver, "veh_range": None, "hvb_state_of_charge": None, "hvb_charge_status": None,
        "hvb_charge_source": None, "hvb_lifetime_energy_output": None, "eld_device": eld_device(v),
    }


def eld_device(v: SimVehicle) -> dict:
    return {"id": 8_800_000 + v.index, "identifier": f"ELD{v.index:07d}", "model": "lbb-3.6ca"}


def samsara_external_ids(v: SimVehicle) -> dict:
    ids = {"samsara.serial": f"G{stable_int('serial', v.provider_id) % 10**10:010d}"}
    if v.vin:
        ids["samsara.vin"] = v.vin
    return ids


def samsara_vehicle(v: SimVehicle) -> dict:
    return {"id": v.provider_id, "name": v.number, "vin": v.vin, "externalIds": samsara_external_ids(v)}


@lru_cache(maxsize=None)
def _ms_offset(vehicle_id: str) -> float:
    return (stable_int("ms", vehicle_id) % 1000) / 1000.0


def _ms(v: SimVehicle, t: float) -> float:
    """Samsara readings carry milliseconds: a stable sub-second offset per vehicle."""
    return int(t) + _ms_offset(v.provider_id)


def samsara_gps(seed: int, v: SimVehicle, p: Point) -> dict:
    reading = {"time": iso_z(_ms(v, p.t), millis=True), "latitude": round(p.lat, 6), "longitude": round(p.lon, 6),
               "headingDegrees": int(round(p.heading)) % 360, "speedMilesPerHour": p.speed_mph,
               "isEcuSpeed": v.index % 2 == 0, "reverseGeo": {"formattedLocation": place(v, p)}}
    if (int(p.t) // 60 + v.index) % 6 == 0:  # ~16% of readings carry a named address
        reading["address"] = {"id": str(88_000_000 + v.depot), "name": f"Depot {DEPOTS[v.depot][0]}"}
    return reading


def samsara_engine(v: SimVehicle, t: float, state: str) -> dict:
    return {"time": iso_z(_ms(v, t), millis=True), "value": state}


def samsara_odometer(v: SimVehicle, p: Point) -> dict:
    return {"time": iso_z(_ms(v, p.t) + 2.0, millis=True), "value": int(p.odometer_miles * 1609.344)}


def samsara_assignment(v: SimVehicle, driver: Driver, start: float, end: float | None, kind: str,
                       passenger: bool, assigned_at: str = "") -> dict:
    record = {
        "driver": {"id": driver.id, "name": driver.name},
        "vehicle": {"id": v.provider_id, "name": v.number, "externalIds": samsara_external_ids(v)},
        "startTime": iso_z(start), "assignedAtTime": assigned_at, "assignmentType": kind, "isPassenger": passenger,
    }
    if end is not None:
        record["endTime"] = iso_z(end)
    return record


def fleet_start_epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
