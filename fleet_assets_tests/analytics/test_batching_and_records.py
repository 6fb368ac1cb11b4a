"""Pure parts: record transforms (units, NaN, dedup) and deterministic batching by points and bytes."""

from __future__ import annotations

import math
import random

import orjson
import pyarrow as pa
import pytest

from fleet_assets.analytics import records
from fleet_assets.analytics.batching import Item, build_variables, pack
from fleet_assets.analytics.operations import ALL_OPERATIONS
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.schema import TELEMETRY_SCHEMA


def _items(n: int, groups: int = 3) -> list[Item]:
    return [Item((g,), {"configurationId": g}, {"time": f"2025-06-01T00:00:{i:02d}.000000Z", "latitude": 1.5,
                                                   "longitude": 2.5, "speed": None, "bearing": None},
                 fingerprint=g * 1000 + i) for g in range(groups) for i in range(n)]


@pytest.mark.parametrize("max_points,max_bytes", [(50, 10**9), (10**6, 4000), (7, 1500)])
def test_batches_respect_points_and_bytes_and_keep_every_item_once(max_points, max_bytes):
    items = _items(40)
    batches = pack("2025-06-01", "gps", items, max_points, max_bytes)
    assert [i for b in batches for i in b.items] == items
    for b in batches:
        body = orjson.dumps({"query": ALL_OPERATIONS["upsertGpsData"], "variables": b.variables()})  # as sent
        assert len(b.items) <= max_points
        assert len(body) <= max_bytes or len(b.items) == 1
        assert len({i.group for i in b.items}) == 1  # one configurationId per GPS request


def test_signal_batches_mix_groups_and_ids_are_deterministic_and_suffix_stable():
    items = [Item((g, 7, "Speed"), {"configurationId": g, "messageId": 7, "name": "Speed", "unit": "km/h"},
                  {"value": float(i), "svalue": None, "time": str(i)}, g * 100 + i) for g in range(4) for i in range(30)]
    batches = pack("d", "signal", items, 25, 10**9)
    assert len(batches) == 5 and len(batches[0].variables()["input"]["signals"]) == 1
    assert len(batches[1].variables()["input"]["signals"]) == 2
    again = pack("d", "signal", items, 25, 10**9)
    assert [b.batch_id for b in again] == [b.batch_id for b in batches]
    # Resuming after the first two batches re-packs the rest into the very same batches.
    rest = [i for b in batches[2:] for i in b.items]
    assert [b.batch_id for b in pack("d", "signal", rest, 25, 10**9)] == [b.batch_id for b in batches[2:]]
    assert pack("other-day", "signal", items, 25, 10**9)[0].batch_id != batches[0].batch_id


def test_bad_limits_and_kinds_are_rejected():
    with pytest.raises(ValueError, match="batch limits must be positive"):
        pack("d", "gps", _items(1), 0, 100)
    with pytest.raises(ValueError, match="unknown upload kind 'can'"):
        build_variables("can", _items(1))


def test_gps_points_convert_units_dedupe_and_fall_back_to_provider_ids(day):
    telemetry = day.data.telemetry
    doubled = pa.concat_tables([telemetry, telemetry.slice(0, 5)])
    gps = records.gps_points(doubled)
    assert gps.num_rows == telemetry.num_rows  # exact duplicates collapse to one natural key
    row = gps.filter(pa.compute.equal(gps["vehicle_key"], "1FTEST00000000001")).to_pylist()[10]
    assert row["speed"] == pytest.approx(10 * 0.44704)  # mph → m/s
    assert "samsara:s-77" in set(gps["vehicle_key"].to_pylist())
    assert gps.filter(pa.compute.equal(gps["vehicle_key"], "samsara:s-77"))["speed"].null_count > 0


def test_signal_points_skip_null_and_nan_values(day):
    signals = records.signal_points(day.data.edge_events)
    assert signals.num_rows == day.expected["signal"]
    assert not any(v is None or math.isnan(v) for v in signals["value"].to_pylist())
    assert set(signals["pid"].to_pylist()) == {"0D", "0C", "05", "11", "2F", "5B"}


def test_network_stats_are_derived_from_the_datasets(day):
    stats = {(r["vehicle_key"], r["name"]): r for r in records.network_stats(
        "2025-06-01", day.data.telemetry, day.data.edge_events, day.data.edge_dtcs).to_pylist()}
    assert stats[("samsara:s-77", "samsara")]["unmatched"] == 100 and stats[("samsara:s-77", "samsara")]["matched"] == 0
    edge0 = stats[("1FTEST00000000000", "edge_obd")]
    assert edge0["total"] == 250 + 3 and edge0["errors"] == 5  # 5 clock-skewed events
    assert edge0["upload_id"] == 20250601


def test_changed_value_changes_the_fingerprint_but_not_the_key():
    base = pa.Table.from_pylist([{"provider": "motive", "provider_vehicle_id": "1", "vin": "V", "fleet_number": None,
                                  "timestamp": 0, "latitude": 1.0, "longitude": 2.0, "speed_mph": None,
                                  "heading_degrees": None, "engine_state": None, "driver_id": None,
                                  "driver_name": None, "location_description": None, "odometer": None}],
                                schema=TELEMETRY_SCHEMA)
    moved = base.set_column(5, TELEMETRY_SCHEMA.field("latitude"), pa.array([1.5]))
    a, b = records.gps_points(base).to_pylist()[0], records.gps_points(moved).to_pylist()[0]
    assert a["time"] == b["time"] and a["fingerprint"] != b["fingerprint"]


def test_wire_items_are_in_group_then_time_order_whatever_the_input_order():
    """Bucketing by (vehicle, PID) runs must give the order of a plain sort by (group, time)."""
    from fleet_assets.analytics.records import GPS_SCHEMA, SIGNAL_SCHEMA
    from fleet_assets.analytics.wire_items import gps_items, message_key, pid_message, signal_items

    rng = random.Random(3)
    vehicles = ["VIN_A", "VIN_B", "VIN_C"]
    config_of = {"VIN_A": 2, "VIN_B": 1, "VIN_C": 2}.__getitem__  # two vehicles share a configuration
    times = [f"2025-06-01T00:00:{s:02d}.000000Z" for s in range(20)]
    gps_rows = [{"vehicle_key": v, "time": t, "latitude": 1.0, "longitude": 2.0, "speed": None, "bearing": 3.0,
                 "fingerprint": n} for n, (v, t) in enumerate((v, t) for v in vehicles for t in times)]
    sig_rows = [{"vehicle_key": v, "pid": p, "time": t, "value": 1.5, "fingerprint": n}
                for n, (v, p, t) in enumerate((v, p, t) for v in vehicles for p in ("0D", "0C") for t in times)]
    messages = {message_key(pid_message(p)): m for p, m in (("0D", 5), ("0C", 4))}
    for shuffle in (False, True):
        for rows in (gps_rows, sig_rows):
            if shuffle:
                rng.shuffle(rows)
        gps = gps_items(pa.Table.from_pylist(gps_rows, schema=GPS_SCHEMA), config_of)
        sig = signal_items(pa.Table.from_pylist(sig_rows, schema=SIGNAL_SCHEMA), config_of, messages)
        for items, n in ((gps, len(gps_rows)), (sig, len(sig_rows))):
            assert len(items) == n and len({i.fingerprint for i in items}) == n
            assert items == sorted(items, key=lambda i: (i.group, i.point["time"]))
            headers = {}
            for i in items:  # one shared header object per group
                assert headers.setdefault(i.group, i.header) is i.header


def test_coalesced_batches_hold_at_most_max_aliases_groups_and_verbatim_ones_one():
    items = [Item((g, "edge_obd", 20250601), {"name": "edge_obd", "configurationId": g, "uploadId": 20250601},
                  {"totalMessages": g}, g) for g in range(40)]
    limit = UploadSettings().max_aliases_per_request
    coalesced = pack("d", "network_stats", items, 10**6, 10**9, coalesce=True, max_aliases=limit)
    assert [b.group_count for b in coalesced] == [15, 15, 10]
    assert all(b.uses_aliases for b in coalesced)
    assert [i for b in coalesced for i in b.items] == items
    verbatim = pack("d", "network_stats", items, 10**6, 10**9, coalesce=False)
    assert len(verbatim) == 40 and not any(b.uses_aliases for b in verbatim)


def test_vectorised_fingerprints_equal_the_single_record_fingerprint():
    table = pa.table({"key": ["a", "b", None], "time": ["t1", "t2", "t3"], "value": [1.5, None, 1e-05]})
    expected = [records.fingerprint("gps", *row) for row in zip(*(c.to_pylist() for c in table.columns))]
    assert records.fingerprints("gps", table).to_pylist() == expected


def test_network_stats_batches_split_and_bisect_even_when_two_vehicles_share_an_owner_id():
    """Issue 12 item 1: bisecting a network-stats batch raised 'network stats are one object per field'
    when a (stale) configuration id made two vehicles' stats one group."""
    from fleet_assets.analytics import wire_items

    from .conftest import DAY, make_day

    d = make_day().data
    stats = records.network_stats(DAY, d.telemetry, d.edge_events, d.edge_dtcs)
    items = wire_items.network_stats_items(stats, lambda key: 7, lambda key: 7, "configurationId")
    batches = pack(DAY, "network_stats", items, 50_000, 4_000_000, coalesce=True)
    assert sum(len(b.items) for b in batches) == stats.num_rows
    pending = list(batches)
    while pending:  # every bisection step down to single records builds its document
        batch = pending.pop()
        variables = batch.variables()
        assert len(variables) == (batch.group_count if batch.uses_aliases else 1)
        if len(batch.items) > 1:
            pending.extend(batch.split())
            pending.extend(batch.group_batches())


def test_days_are_canonical_wherever_they_key_something():
    assert records.canonical_day("20251104") == records.canonical_day(" 2025-11-04 ") == "2025-11-04"
    for bad in ("2025-13-45", "yesterday", "../x", ""):
        with pytest.raises(records.AnalyticsInputError, match="is not a day; expected YYYY-MM-DD"):
            records.canonical_day(bad)


def test_uploader_keys_the_ledger_by_the_canonical_day(run_upload):
    from fleet_assets.analytics.sandbox import AnalyticsSandbox

    from .conftest import make_day

    day = make_day(points=20, events=10, dtcs=2)
    backend = AnalyticsSandbox()
    first = run_upload(backend, day.data, key="20250601")
    again = run_upload(backend, day.data, key="2025-06-01")
    assert first.partition_key == "2025-06-01" and sum(again.records_sent.values()) == 0


@pytest.mark.parametrize("odd", [None, "it's", "back\\slash", 'say "hi"', "Köln", "tab\there", "\x7f", "~ok~"])
def test_column_wise_fingerprints_are_the_per_row_values(odd):
    """The ledger holds fingerprints of earlier runs: the column-wise hash must give the per-row repr's values."""
    table = pa.table({"key": ["1FT-A", None, "", "x y", odd or "plain"],
                      "value": [1.5, None, 100.0, 1e16, -0.0], "ratio": [math.inf, 0.1 + 0.2, 5e-324, 3.0, None],
                      "n": pa.array([1, None, -5, 2**40, 0], pa.int64())})
    assert (records._repr_texts("signal", table) is None) == (odd not in (None, "~ok~", 'say "hi"'))
    assert records.fingerprints("signal", table).to_pylist() == [
        records.fingerprint("signal", *row) for row in records.rows(table)]


def test_dedup_keeps_the_first_row_per_key_nulls_included():
    table = pa.table({"a": ["x", "x", None, None, "y", "x", None], "b": [1, 1, 2, 2, None, 2, None],
                      "fingerprint": [5, 3, 1, 0, 9, 9, 4]})
    assert records._dedup(table, ["a", "b"]).to_pylist() == [
        {"a": "x", "b": 1, "fingerprint": 3}, {"a": "x", "b": 2, "fingerprint": 9},
        {"a": "y", "b": None, "fingerprint": 9}, {"a": None, "b": 2, "fingerprint": 0},
        {"a": None, "b": None, "fingerprint": 4}]


@pytest.mark.parametrize("shuffle", [False, True])
def test_signal_items_are_in_group_then_time_order_when_runs_share_a_group_or_come_unsorted(shuffle):
    from fleet_assets.analytics import wire_items

    rows = [("VIN-A", "0D", f"2025-01-01T00:00:0{s}Z", float(s), s) for s in (1, 4, 7)]
    rows += [("VIN-B", "0D", f"2025-01-01T00:00:0{s}Z", float(s), 10 + s) for s in (2, 3, 9)]  # same config id
    rows += [("VIN-C", "0C", f"2025-01-01T00:00:0{s}Z", float(s), 20 + s) for s in (5, 6)]
    if shuffle:
        random.Random(3).shuffle(rows)
    table = pa.Table.from_pylist([dict(zip(records.SIGNAL_SCHEMA.names, r)) for r in rows], records.SIGNAL_SCHEMA)
    mids = {wire_items.message_key(wire_items.pid_message(p)): n for n, p in enumerate(("0D", "0C"), start=1)}
    items = wire_items.signal_items(table, {"VIN-A": 7, "VIN-B": 7, "VIN-C": 3}.__getitem__, mids)
    assert [(i.group, i.point["time"]) for i in items] == sorted((i.group, i.point["time"]) for i in items)
    assert sorted(i.fingerprint for i in items) == sorted(r[4] for r in rows)
