"""A day split into shards gives the same tables as the unsplit day, through the real assets.

The day is built to sit on every edge: points at 00:00:00 and 23:59:59.999 and just outside the day, engine
states only known from the previous day, odometer readings nearest across midnight (before the day and after
it), assignments starting the day before / overlapping / for passengers / for unknown vehicles, a vehicle
paginated into two stats records (the first record's VIN wins), two vehicle ids sharing one VIN (in both
providers), a VIN shared across providers and with edge rows, blank VINs, points of a Motive vehicle that is
not in the vehicle list. Many shards (dozens, a few vehicles each), different counts per provider, and an
edge source written without shards exercise how telemetry lines sources up.
"""

import contextlib
from datetime import UTC, datetime, timedelta

import dagster as dg
import psutil
import pyarrow as pa
import pytest

from fleet_assets.provider_ingest.assets import normalized_motive, normalized_samsara, telemetry
from fleet_assets.provider_ingest.fetch import motive_raw_files, samsara_raw_files
from fleet_assets.provider_ingest.normalize import TelemetryFromRaw
from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.parquet_partitions import open_partition, read_partition, shard_row_groups, write_partition
from fleet_assets.storage.publish import publish_shards
from fleet_assets.storage.raw_store import read_raw, write_raw
from fleet_assets.transforms import dedup_telemetry, normalize_motive, normalize_samsara
from fleet_assets.transforms.errors import MalformedRecordsError
from fleet_assets.transforms.rules import DATASET_RULES
from fleet_assets.transforms.motive import motive_locations_table
from fleet_assets.transforms.wire import motive_location_records, records_to_ndjson
from fleet_assets.warehouse.resources import FleetStorage

DAY = "2026-03-01"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
EDGES = [T0 - timedelta(seconds=1), T0, T0 + timedelta(minutes=1), T0 + timedelta(hours=12),
         T0 + timedelta(days=1) - timedelta(milliseconds=1), T0 + timedelta(days=1)]


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _samsara():
    stats, assignments = [], []
    for i in range(24):
        vin = {2: "CROSSVIN000000002", 5: "TWINVIN0000000005", 7: "TWINVIN0000000005"}.get(i, f"SVIN{i:013d}" if i % 2 == 0 else ("" if i % 4 == 1 else None))
        times = EDGES + [T0 + timedelta(minutes=37 * k + i) for k in range(1, 30)]
        stats.append({
            "id": f"s{i}", "name": f"Truck {i}", "externalIds": {"samsara.vin": vin},
            "engineStates": [{"time": _iso(T0 - timedelta(hours=1)), "value": "off"}, {"time": _iso(T0 + timedelta(hours=6)), "value": "On"}],
            "obdOdometerMeters": [{"time": _iso(T0 - timedelta(minutes=15)), "value": 1000.0 * i},
                                  {"time": _iso(T0 + timedelta(days=1, minutes=15)), "value": 2000.0 * i}],
            "gps": [{"time": _iso(t), "latitude": 30 + i / 10, "longitude": -90.0, "headingDegrees": 5, "speedMilesPerHour": 20.0,
                     "reverseGeo": {"formattedLocation": "Austin, TX"}} for t in times],
        })
        assignments.append({"driver": {"id": f"d{i}", "name": "A"}, "vehicle": {"id": f"s{i}"}, "startTime": _iso(T0 - timedelta(hours=2)),
                            "endTime": "" if i % 3 else _iso(T0 + timedelta(hours=12)), "isPassenger": i == 4})
    assignments.append({"driver": {"id": "late", "name": "B"}, "vehicle": {"id": "s1"}, "startTime": _iso(T0 + timedelta(hours=8)),
                        "endTime": _iso(T0 + timedelta(hours=9)), "isPassenger": False})  # overlaps s1's open assignment
    assignments.append({"driver": {"id": "ghost", "name": "C"}, "vehicle": {"id": "s99"}, "startTime": _iso(T0), "endTime": "", "isPassenger": False})
    # s3 paginated: a second record with more points and another VIN (the first record's identity wins)
    stats.append({**stats[3], "externalIds": {"samsara.vin": "OTHERVIN000000003"}, "engineStates": [],
                  "gps": [{**g, "time": _iso(T0 + timedelta(hours=20, seconds=k))} for k, g in enumerate(stats[3]["gps"][:5])]})
    return stats, assignments


def _motive():
    vehicles = [{"id": i, "number": f"M{i}", "vin": {2: "CROSSVIN000000002", 3: " ", 5: "MTWIN000000000005", 6: "MTWIN000000000005"}.get(i, f"MVIN{i:013d}" if i % 2 else None),
                 "metric_units": i % 4 == 0} for i in range(1, 17)]
    locations = {}
    for vid in [*range(1, 17), 99]:
        items = [{"vehicle_location": {"located_at": _iso(t) if k % 5 else t.astimezone().isoformat(), "lat": 40.0, "lon": -80.0 - vid / 100,
                                       "type": "breadcrumb", "speed": 10.0 + k, "bearing": 1.0, "true_odometer": 100.0 + k,
                                       "description": "X", "driver": {"id": 3, "first_name": "A", "last_name": "B"}}}
                 for k, t in enumerate(EDGES + [T0 + timedelta(minutes=41 * k + vid) for k in range(1, 25)])]
        locations[str(vid)] = items + items[2:4]  # repeated points
    return vehicles, motive_location_records(locations)


def _edge_rows() -> pa.Table:
    rows = [{"provider": "edge", "provider_vehicle_id": "car-1", "vin": "MVIN0000000000001", "timestamp": t,
             "latitude": 1.0, "longitude": 2.0} for t in EDGES[1:5]]
    rows += [{"provider": "edge", "provider_vehicle_id": "car-2", "vin": None, "timestamp": t, "latitude": 1.0, "longitude": 2.0}
             for t in EDGES[1:5]]
    return pa.Table.from_pylist(rows, schema=TELEMETRY_SCHEMA)


def _store_raw(storage: FleetStorage, motive_rows: int, samsara_rows: int, corrupt: str | None = None) -> None:
    vehicles, locations = _motive()
    files, shards = motive_raw_files(vehicles, locations, motive_rows)
    write_raw(storage.raw_dir, "motive", DAY, files, {"shards": shards, "units": "imperial"})
    stats, assignments = _samsara()
    files, shards = samsara_raw_files(stats, assignments, samsara_rows)
    if corrupt:
        files[corrupt] = b'{"id": "s1", "gps": [{"time": "2026-03-01T00:00:00Z", "latitude": 1.0,\n'  # cut off mid-record
    write_raw(storage.raw_dir, "samsara", DAY, files, {"shards": shards})


def _materialize(tmp_path, name, motive_rows, samsara_rows) -> tuple[FleetStorage, dg.ExecuteInProcessResult]:
    storage = FleetStorage(data_dir=str(tmp_path / name))
    _store_raw(storage, motive_rows, samsara_rows)
    write_partition(storage.dataset("normalized_edge"), DAY, _edge_rows())
    result = dg.materialize([normalized_motive, normalized_samsara, telemetry], partition_key=DAY, resources={"storage": storage})
    assert result.success
    return storage, result


def _sorted(table: pa.Table) -> list[dict]:
    return table.sort_by([(c, "ascending") for c in table.column_names]).to_pylist()


def test_sharded_day_equals_unsharded_day(tmp_path, monkeypatch):
    whole, whole_result = _materialize(tmp_path, "whole", 10**9, 10**9)
    monkeypatch.setenv("FLEET_SHARD_WORKERS", "1")  # every shard in the asset's process
    in_process, in_process_result = _materialize(tmp_path, "in-process", 40, 16)
    monkeypatch.setenv("FLEET_SHARD_WORKERS", "2")  # shards in two worker processes
    split, split_result = _materialize(tmp_path, "split", 40, 16)
    assert read_raw(whole.raw_dir, "samsara", DAY).shards == 1 and read_raw(whole.raw_dir, "motive", DAY).shards == 1
    assert read_raw(split.raw_dir, "samsara", DAY).shards == 64 and read_raw(split.raw_dir, "motive", DAY).shards == 16
    workers = [r.asset_materializations_for_node("normalized_samsara")[0].metadata["workers"].value
               for r in (whole_result, in_process_result, split_result)]
    assert workers == [1, 1, 2]
    for name in ("normalized_motive", "normalized_samsara", "telemetry"):
        a, b = read_partition(whole.dataset(name), DAY), read_partition(split.dataset(name), DAY)
        assert a.num_rows > 100 and _sorted(a) == _sorted(b), name
        assert read_partition(in_process.dataset(name), DAY).equals(b), name  # same rows in the same order
    with open_partition(split.dataset("telemetry"), DAY) as pf:
        assert shard_row_groups(pf)[0] == 64  # the largest source's count; motive's 16 shards are split further
    for result in (whole_result, split_result):
        checks = result.get_asset_check_evaluations()
        assert len(checks) == 15 and all(c.passed for c in checks), [c for c in checks if not c.passed]
    meta = {n: split_result.asset_materializations_for_node(n)[0].metadata for n in ("telemetry", "normalized_samsara")}
    assert meta["telemetry"]["dagster/row_count"].value == read_partition(whole.dataset("telemetry"), DAY).num_rows
    assert meta["telemetry"]["duplicates_dropped"].value == whole_result.asset_materializations_for_node("telemetry")[0].metadata["duplicates_dropped"].value
    assert meta["normalized_samsara"]["vehicles"].value == 23  # 24 ids in 25 records (s3 twice); s5 and s7 share a VIN

    # the edges are really in the output (so equality above is not vacuous)
    sam = read_partition(split.dataset("normalized_samsara"), DAY).to_pylist()
    s0 = {r["timestamp"]: r for r in sam if r["provider_vehicle_id"] == "s0"}
    assert T0 - timedelta(seconds=1) not in s0 and T0 + timedelta(days=1) not in s0
    first, last = s0[T0], s0[T0 + timedelta(days=1) - timedelta(milliseconds=1)]
    assert first["engine_state"] == "Off" and first["driver_id"] == "d0" and first["odometer"] == 0.0  # previous-day state, 23:45 reading
    assert last["engine_state"] == "On" and last["driver_id"] is None and last["odometer"] == 0.0  # assignment ended at 12:00
    s6 = {r["timestamp"]: r for r in sam if r["provider_vehicle_id"] == "s6"}
    assert s6[T0 + timedelta(days=1) - timedelta(milliseconds=1)]["odometer"] == 12000.0 / 1609.344  # next-day 00:15 reading
    assert {r["driver_id"] for r in sam if r["provider_vehicle_id"] == "s1" and T0 + timedelta(hours=8) <= r["timestamp"] < T0 + timedelta(hours=9)} == {"late"}
    assert {r["vin"] for r in sam if r["provider_vehicle_id"] == "s3"} == {None}  # s3 has no VIN: its first record decides
    tele = read_partition(split.dataset("telemetry"), DAY).to_pylist()
    at_edges = [r for r in tele if r["timestamp"] in EDGES]
    assert {r["provider"] for r in at_edges if r["vin"] == "CROSSVIN000000002"} == {"samsara"}  # won across providers
    assert {r["provider"] for r in tele if r["vin"] == "CROSSVIN000000002"} == {"samsara", "motive"}
    assert {r["provider"] for r in at_edges if r["vin"] == "MVIN0000000000001"} == {"motive"}  # edge rows lost the tie
    assert sum(r["provider_vehicle_id"] == "car-2" for r in tele) == 4


def _whole_day_telemetry() -> pa.Table:
    """The reference: both providers' whole day normalized and deduplicated in one piece."""
    vehicles, locations = _motive()
    stats, assignments = _samsara()
    both = pa.concat_tables([normalize_motive(vehicles, motive_location_records_table(locations), DAY, units="imperial"),
                             normalize_samsara(stats, assignments, DAY)])
    return dedup_telemetry(both).table


def motive_location_records_table(locations: list[dict]) -> pa.Table:
    return motive_locations_table(records_to_ndjson(locations))


def _publish_streamed(storage: FleetStorage, dataset: str, workers: int) -> TelemetryFromRaw:
    """The streamed day published the product's way: rules per shard, one atomic publish, read back."""
    streamed = TelemetryFromRaw(storage.raw_dir, DAY, workers=workers)
    with contextlib.closing(streamed.tables()) as tables:
        published = publish_shards(storage.dataset(dataset), DAY, tables, DATASET_RULES["telemetry"],
                                   schema=TELEMETRY_SCHEMA, shard_count=streamed.shards)
    assert all(ok for ok, _ in published.checks.values()), published.checks
    return streamed


def test_streamed_day_in_worker_processes_equals_in_process_and_the_whole_day(tmp_path):
    storage = FleetStorage(data_dir=str(tmp_path / "day"))
    _store_raw(storage, 40, 60)
    assert read_raw(storage.raw_dir, "motive", DAY).shards == read_raw(storage.raw_dir, "samsara", DAY).shards == 16
    parallel = _publish_streamed(storage, "parallel", workers=2)
    in_process = _publish_streamed(storage, "in_process", workers=1)
    assert (parallel.workers, in_process.workers, parallel.shards) == (2, 1, 16)
    a, b = read_partition(storage.dataset("parallel"), DAY), read_partition(storage.dataset("in_process"), DAY)
    assert a.equals(b)  # same rows, same order (shard-major), same types
    whole = _whole_day_telemetry()
    assert whole.num_rows > 500 and _sorted(a) == _sorted(whole)
    assert parallel.rows_in > whole.num_rows and parallel.rows_in == in_process.rows_in  # repeated points dropped
    stamps = set(a["timestamp"].to_pylist())
    assert {T0, T0 + timedelta(days=1) - timedelta(milliseconds=1)} <= stamps  # midnight edges kept
    assert not {T0 - timedelta(seconds=1), T0 + timedelta(days=1)} & stamps  # ... and the day's bounds hold
    with open_partition(storage.dataset("parallel"), DAY) as pf:
        assert shard_row_groups(pf)[0] == 16


def _files(root) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_a_bad_shard_in_a_worker_fails_as_in_process_and_publishes_nothing(tmp_path):
    storage = FleetStorage(data_dir=str(tmp_path / "day"))
    _store_raw(storage, 40, 60)
    _publish_streamed(storage, "telemetry", workers=2)
    _store_raw(storage, 40, 60, corrupt="stats_0007")  # a shard in the middle of the day
    root = storage.dataset("telemetry").local_path
    before, children = _files(root), {p.pid for p in psutil.Process().children(recursive=True)}
    messages = []
    for workers in (1, 2):
        with pytest.raises(MalformedRecordsError) as raised:
            _publish_streamed(storage, "telemetry", workers=workers)
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and messages[0].startswith("malformed samsara stats history records:"), messages
    assert _files(root) == before  # the previous partition byte-identical, no staging file left
    assert {p.pid for p in psutil.Process().children(recursive=True)} <= children  # no worker outlives the call
