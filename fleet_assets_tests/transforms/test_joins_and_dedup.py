"""Vectorised joins against brute force, and the dedup key rules."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.transforms import dedup_telemetry
from fleet_assets.transforms.joins import asof_backward, covering, nearest

BASE = 1_767_225_600_000_000  # 2026-01-01T00:00Z in µs


def _brute_asof(pc_, pt, sc, st):
    out = []
    for c, t in zip(pc_, pt):
        cands = [j for j in range(len(sc)) if sc[j] == c and st[j] <= t]
        out.append(max(cands, key=lambda j: (st[j], j)) if cands else -1)
    return out


def _brute_nearest(pc_, pt, sc, st, tol):
    out = []
    for c, t in zip(pc_, pt):
        cands = [j for j in range(len(sc)) if sc[j] == c and abs(st[j] - t) <= tol]
        out.append(min(cands, key=lambda j: (abs(st[j] - t), st[j])) if cands else -1)
    return out


def _brute_cover(pc_, pt, ac, a0, a1):
    out = []
    for c, t in zip(pc_, pt):
        cands = [j for j in range(len(ac)) if ac[j] == c and a0[j] <= t < a1[j]]
        out.append(max(cands, key=lambda j: (a0[j], j)) if cands else -1)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_joins_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = 300, 120
    pc_ = rng.integers(0, 4, n)
    pt = BASE + rng.integers(0, 86_400, n) * 1_000_000
    sc = rng.integers(0, 4, m)
    st = BASE + rng.integers(-86_400, 90_000, m) * 1_000_000
    got = asof_backward(pc_, pt, sc, st, BASE - 6 * 86_400_000_000)
    want = _brute_asof(pc_, pt, sc, st)
    # Equal reading times are interchangeable for as-of; compare the chosen times.
    assert [st[g] if g >= 0 else None for g in got] == [st[w] if w >= 0 else None for w in want]
    tol = 1_800_000_000
    got_n = nearest(pc_, pt, sc, st, BASE - 6 * 86_400_000_000, tol)
    want_n = _brute_nearest(pc_, pt, sc, st, tol)
    assert [st[g] if g >= 0 else None for g in got_n] == [st[w] if w >= 0 else None for w in want_n]
    a0 = BASE + rng.integers(-3_600, 86_400, m) * 1_000_000
    a1 = np.where(rng.random(m) < 0.1, np.iinfo(np.int64).max, a0 + rng.integers(60, 20_000, m) * 1_000_000)
    got_c = covering(pc_, pt, sc, a0, a1, BASE - 6 * 86_400_000_000)
    want_c = _brute_cover(pc_, pt, sc, a0, a1)
    assert [a0[g] if g >= 0 else None for g in got_c] == [a0[w] if w >= 0 else None for w in want_c]


def _rows(*rows):
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    full = []
    for provider, pvid, vin, second, speed in rows:
        full.append({
            "provider": provider, "provider_vehicle_id": pvid, "vin": vin, "fleet_number": None,
            "timestamp": t0 + timedelta(seconds=second), "latitude": 1.0, "longitude": 2.0, "speed_mph": speed,
            "heading_degrees": None, "engine_state": None, "driver_id": None, "driver_name": None,
            "location_description": None, "odometer": None,
        })
    return pa.Table.from_pylist(full, schema=TELEMETRY_SCHEMA)


def test_vinless_vehicles_at_same_instant_are_both_kept():
    result = dedup_telemetry(_rows(("motive", "1", None, 0, 1.0), ("motive", "2", None, 0, 2.0), ("samsara", "1", None, 0, 3.0)))
    assert result.duplicates == 0 and result.table.num_rows == 3


def test_same_vin_two_providers_keeps_priority_provider():
    result = dedup_telemetry(_rows(("motive", "8", "VIN1", 0, 1.0), ("samsara", "s8", "VIN1", 0, 2.0), ("motive", "8", "VIN1", 5, 9.0)))
    rows = result.table.to_pylist()
    assert result.duplicates == 1
    assert [(r["provider"], r["speed_mph"]) for r in rows] == [("samsara", 2.0), ("motive", 9.0)]


def test_later_row_of_same_provider_wins_and_output_is_sorted():
    result = dedup_telemetry(_rows(("motive", "8", "VIN2", 10, 1.0), ("motive", "8", "VIN1", 0, 5.0), ("motive", "8", "VIN2", 10, 7.0)))
    rows = result.table.to_pylist()
    assert [(r["vin"], r["speed_mph"]) for r in rows] == [("VIN1", 5.0), ("VIN2", 7.0)]
    assert result.duplicates == 1


def test_dedup_is_deterministic_under_input_permutation():
    base = _rows(*[("samsara" if i % 3 else "motive", str(i % 5), f"VIN{i % 7}" if i % 2 else None, i % 11, float(i)) for i in range(200)])
    a = dedup_telemetry(base).table
    b = dedup_telemetry(base.take(pa.array(np.random.default_rng(1).permutation(200)))).table
    ident = lambda r: (r["vin"] or f'{r["provider"]}:{r["provider_vehicle_id"]}', r["timestamp"])  # noqa: E731
    assert [ident(r) for r in a.to_pylist()] == [ident(r) for r in b.to_pylist()]  # same keys, same order
    assert [ident(r) for r in a.to_pylist()] == sorted({ident(r) for r in base.to_pylist()})  # one row per key


def test_wide_time_span_uses_fallback_with_same_rules():
    """Decades of timestamps across many vehicles overflow the packed int64 key."""
    t0 = datetime(1971, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(3000):
        rows.append(("motive" if i % 2 else "samsara", str(i % 1500), f"VIN{i % 1500}", 0, float(i)))
    table = _rows(*rows)
    far = pa.array([t0 + timedelta(days=20000 * (i % 2)) for i in range(3000)], TELEMETRY_SCHEMA.field("timestamp").type)
    table = table.set_column(4, "timestamp", far)
    result = dedup_telemetry(table)
    # VIN{k} appears at i=k (even->samsara/odd->motive) and i=k+1500; both have the same timestamp parity only if 1500 is even.
    assert result.duplicates == 1500 and result.table.num_rows == 1500
    assert set(result.table.column("provider").to_pylist()) <= {"samsara", "motive"}
    winners = {r["vin"]: r["provider"] for r in result.table.to_pylist()}
    assert all(p == "samsara" for v, p in winners.items() if int(v[3:]) % 2 == 0)


def _brute_dedup(table, priority=("samsara", "motive", "edge")):
    """One row per (identity, timestamp): best provider, then the later input row; sorted by key."""
    best = {}
    for i, r in enumerate(table.to_pylist()):
        key = (r["vin"] if r["vin"] is not None else f'{r["provider"]}:{r["provider_vehicle_id"]}', r["timestamp"])
        rank = priority.index(r["provider"]) if r["provider"] in priority else len(priority)
        if key not in best or rank <= best[key][0]:
            best[key] = (rank, i)
    return [best[k][1] for k in sorted(best)]


@pytest.mark.parametrize("vin_share", [0.0, 0.5, 1.0])
def test_dedup_matches_brute_force(vin_share):
    """Includes a VIN spelled like a fallback identity ('motive:3'): it is the same vehicle, as with coalesce."""
    rng = np.random.default_rng(int(vin_share * 10))
    vins = ["VIN1", "VIN2", "motive:3", "", "ZVIN"]
    rows = [
        (str(rng.choice(["samsara", "motive", "edge", "other"])), str(rng.integers(0, 6)),
         str(rng.choice(vins)) if rng.random() < vin_share else None, int(rng.integers(0, 4)), float(i))
        for i in range(400)
    ]
    table = _rows(*rows)
    result = dedup_telemetry(table)
    want = table.take(pa.array(_brute_dedup(table), pa.int64()))
    assert result.table.to_pylist() == want.to_pylist()
    assert result.duplicates == table.num_rows - want.num_rows
