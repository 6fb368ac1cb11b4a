"""The simulated fleet: vehicles, drivers and one day of driving per vehicle.

Everything derives from ``(seed, vehicle, day)`` through ``random.Random``
string seeds, so any vehicle-day is generated on demand, independently and
identically in every process (lazy: nothing is precomputed for a fleet).
Quirks on purpose: every 10th vehicle (index % 10 == 7) has no VIN, Motive
vehicles with index % 5 == 2 use metric units, vehicle 0 of both providers is
the same physical truck (same VIN, same track), and every 6th Samsara vehicle
has one open-ended ``static`` driver assignment.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import NamedTuple

DEPOTS = (
    ("Chicago, IL", 41.8781, -87.6298),
    ("Dallas, TX", 32.7767, -96.7970),
    ("Atlanta, GA", 33.7490, -84.3880),
    ("Denver, CO", 39.7392, -104.9903),
    ("Phoenix, AZ", 33.4484, -112.0740),
    ("Columbus, OH", 39.9612, -82.9988),
)
FIRST_NAMES = ("Ann", "Bo", "Carla", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena", "Mo", "Nia")
LAST_NAMES = ("Lee", "Diaz", "Okafor", "Smith", "Novak", "Ito", "Brown", "Khan", "Rossi", "Silva", "Berg")
SHARED_VIN = "1FTSW21P05EB00001"
MILES_PER_DEG_LAT = 69.0
MAX_DAILY_MILES = 700.0  # top speed 70 mph x 10 h: keeps odometers monotonic across days


def stable_int(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def stable_unit(*parts: object) -> float:
    """Deterministic uniform in [0, 1) from the parts."""
    return stable_int(*parts) / 2**64


def _vin(seed: int, key: str) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"  # no I, O, Q
    n = stable_int(seed, "vin", key)
    chars = []
    for _ in range(17):
        n, r = divmod(n, len(alphabet))
        chars.append(alphabet[r])
        if n == 0:
            n = stable_int(seed, "vin", key, len(chars))
    return "".join(chars)


@dataclass(frozen=True)
class Driver:
    id: str
    first_name: str
    last_name: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass(frozen=True)
class SimVehicle:
    provider: str
    index: int
    provider_id: str
    number: str
    vin: str | None
    track_key: str  # shared by both providers for the same physical truck
    depot: int
    metric_units: bool
    odometer_base: float  # miles on fleet start
    driver: Driver
    static_assignment: bool


def make_driver(seed: int, provider: str, n: int) -> Driver:
    r = random.Random(f"{seed}|driver|{provider}|{n}")
    base = 9_000_001 if provider == "motive" else 51_000_001
    return Driver(str(base + n), r.choice(FIRST_NAMES), r.choice(LAST_NAMES))


@lru_cache(maxsize=64)
def fleet(seed: int, provider: str, count: int) -> tuple[SimVehicle, ...]:
    out = []
    for i in range(count):
        shared = i == 0
        key = "shared-0" if shared else f"{provider}-{i}"
        vin = SHARED_VIN if shared else (None if i % 10 == 7 else _vin(seed, key))
        if provider == "motive":
            pid, number = str(8_000_001 + i), f"M-{101 + i}"
        else:
            pid, number = str(281_474_980_000_001 + i), f"Truck {201 + i}"
        out.append(SimVehicle(
            provider=provider, index=i, provider_id=pid, number=number, vin=vin, track_key=key,
            depot=stable_int(seed, "depot", key) % len(DEPOTS),
            metric_units=provider == "motive" and i % 5 == 2,
            odometer_base=20_000 + stable_unit(seed, "odo", key) * 200_000,
            driver=make_driver(seed, provider, i),
            static_assignment=provider == "samsara" and i % 6 == 3,
        ))
    return tuple(out)


class Point(NamedTuple):  # a tuple: hundreds of thousands are built per fleet-day
    t: float  # epoch seconds
    lat: float
    lon: float
    speed_mph: float
    heading: float
    engine: str  # On | Idle | Off (Off only on the ignition-off point)
    odometer_miles: float
    kind: str  # Motive location type: ignition_on, breadcrumb, vehicle_stopped, ignition_off


@dataclass(frozen=True)
class DayTrack:
    points: tuple[Point, ...]
    engine_events: tuple[tuple[float, str], ...]  # (epoch s, On/Idle/Off) transitions
    shifts: tuple[tuple[float, float], ...]  # (start, end) epoch s of each engine-on period


def day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


@lru_cache(maxsize=8192)
def day_track(seed: int, track_key: str, depot: int, odometer_base: float, day: date,
              interval_s: int, fleet_start: date) -> DayTrack:
    """One vehicle-day: a morning shift and an afternoon shift around a lunch stop."""
    r = random.Random(f"{seed}|track|{track_key}|{day.isoformat()}")
    if day < fleet_start or r.random() < 0.08:  # parked all day
        return DayTrack((), (), ())
    _, lat0, lon0 = DEPOTS[depot]
    # every vehicle starts the day at its depot; the track is a loop with a random walk heading
    lat, lon = lat0 + r.uniform(-0.05, 0.05), lon0 + r.uniform(-0.05, 0.05)
    odo = odometer_base + (day - fleet_start).days * MAX_DAILY_MILES
    heading = r.uniform(0, 360)
    t0 = day_start(day)
    start = t0 + r.uniform(5.0, 9.0) * 3600
    lunch = start + r.uniform(3.5, 4.5) * 3600
    back = lunch + r.uniform(0.5, 1.0) * 3600
    end = back + r.uniform(3.0, 4.5) * 3600
    points: list[Point] = []
    events: list[tuple[float, str]] = []
    for s0, s1 in ((start, lunch), (back, end)):
        t = s0 + r.uniform(0, interval_s / 10)
        events.append((t, "On"))
        points.append(Point(t, lat, lon, 0.0, heading, "On", odo, "ignition_on"))
        state, state_until, speed = "On", t + r.uniform(600, 3600), r.uniform(25, 60)
        t += interval_s
        while t < s1 - 1:  # the ignition-off point at s1 gets its own second
            if t >= state_until:
                if state == "On":
                    state, state_until = "Idle", t + r.uniform(120, 600)
                else:
                    state, state_until, speed = "On", t + r.uniform(600, 3600), r.uniform(25, 60)
                events.append((t, state))
            if state == "On":
                speed = min(70.0, max(5.0, speed + r.gauss(0, 4)))
                dist_lat = lat - lat0
                dist_lon = (lon - lon0) * math.cos(math.radians(lat0))
                if math.hypot(dist_lat, dist_lon) * MILES_PER_DEG_LAT > 120:  # turn home
                    heading = math.degrees(math.atan2(-dist_lon, -dist_lat)) % 360
                heading = (heading + r.gauss(0, 12)) % 360
                miles = speed * interval_s / 3600
                lat += miles * math.cos(math.radians(heading)) / MILES_PER_DEG_LAT
                lon += miles * math.sin(math.radians(heading)) / (MILES_PER_DEG_LAT * math.cos(math.radians(lat)))
                odo += miles
                points.append(Point(t, lat, lon, round(speed, 1), round(heading, 1), "On", odo, "breadcrumb"))
            else:
                points.append(Point(t, lat, lon, 0.0, round(heading, 1), "Idle", odo, "vehicle_stopped"))
            t += interval_s
        events.append((s1, "Off"))
        points.append(Point(s1, lat, lon, 0.0, round(heading, 1), "Off", odo, "ignition_off"))
    return DayTrack(tuple(points), tuple(events), ((start, lunch), (back, end)))


def track_for(seed: int, v: SimVehicle, day: date, interval_s: int, fleet_start: date) -> DayTrack:
    return day_track(seed, v.track_key, v.depot, v.odometer_base, day, interval_s, fleet_start)


def days_between(start: float, end: float) -> list[date]:
    """UTC days touched by the half-open epoch window [start, end)."""
    first = datetime.fromtimestamp(start, UTC).date()
    last = datetime.fromtimestamp(max(start, end - 1e-6), UTC).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def shift_driver(seed: int, v: SimVehicle, day: date, shift_no: int) -> tuple[Driver, Driver | None]:
    """(driver, passenger or None) of one shift: usually the vehicle's own driver."""
    r = random.Random(f"{seed}|crew|{v.provider}|{v.index}|{day.isoformat()}|{shift_no}")
    driver = v.driver if r.random() < 0.85 else make_driver(seed, v.provider, 1000 + r.randrange(50))
    passenger = make_driver(seed, v.provider, 2000 + r.randrange(50)) if r.random() < 0.1 else None
    return driver, passenger
