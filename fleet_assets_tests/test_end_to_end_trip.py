"""End to end: a real NMEA log + an ELM327-emulated car → edge buffer → HTTP upload → sensor → assets → DuckDB.

Collector side (GPL, imported only here in the tests): the collector's own
replay pipeline (``edge_collector.replay``) feeds the gpsd regression log
bt451.log (real receiver output) through GPS parsing, OBD sampling from
ELM327-emulator on a pty, fusion and trip detection into the SQLite
EventBuffer. The log's RMC dates (2009) are rewritten to 2025-03-04 with
fresh checksums, because the platform's daily partitions start 2025-01-01.
The log is two recordings back to back (the clock jumps ~52 min backwards),
which the collector splits into separate trips. Trips are cut by
``chunking.cut_trip`` and sent by the uploader over loopback HTTP to a
uvicorn ingest server started here; then the sensor ticks, its run requests
are materialized with ``dg.materialize`` (trip assets + the pipeline's
``telemetry``) and the rows are queried with DuckDB.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import warnings
from functools import partial
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
import uvicorn

from fleet_assets.ingest.app import create_app
from fleet_assets.ingest.keys import KeyRing
from fleet_assets.warehouse.resources import FleetStorage
from fleet_assets.storage.parquet_partitions import parquet_glob
from fleet_assets.trips.assets import TRIP_ASSETS
from fleet_assets.trips.defs import defs as trips_defs
from fleet_assets.trips.sensors import completed_trips_sensor

pytestmark = pytest.mark.slow

KEY = "e2e-device-key"
NMEA_CANDIDATES = [
    Path(__file__).resolve().parents[1] / "edge_collector" / "tests" / "data" / "nmea" / "bt451.log",
    Path(__file__).resolve().parents[2] / "shared" / "data" / "nmea" / "bt451.log",
]
REPLAY_DAY = "2025-03-04"


def _redate_rmc(line: bytes, ddmmyy: str = "040325") -> bytes:
    """Rewrite the date field of an RMC sentence and recompute its checksum; other lines unchanged."""
    match = re.match(r"^\$(..RMC,[^*]*)\*[0-9A-Fa-f]{2}$", line.decode("ascii", "replace").strip())
    if not match:
        return line
    fields = match.group(1).split(",")
    if len(fields) > 9 and fields[9]:
        fields[9] = ddmmyy
    body = ",".join(fields)
    checksum = 0
    for char in body.encode():
        checksum ^= char
    return f"${body}*{checksum:02X}".encode()


def _replay_drive(db_path: Path) -> None:
    """Run the collector's replay pipeline over the re-dated log with the emulated car."""
    from edge_collector.buffer import EventBuffer
    from edge_collector.collector import Collector, CollectorConfig
    from edge_collector.emulator import start_emulator
    from edge_collector.gps import GpsState
    from edge_collector.obd_reader import ObdSource
    from edge_collector.replay import read_log_lines, replay, rmc_time

    path = next(p for p in NMEA_CANDIDATES if p.exists())
    lines = [_redate_rmc(line) for line in read_log_lines(path)]
    first_fix = next(t for t in map(rmc_time, lines) if t is not None)
    emulator = start_emulator()
    obd = ObdSource(emulator.get_pty())
    try:
        assert obd.connect(), obd.last_status
        with EventBuffer(db_path) as buffer:
            collector = Collector(buffer, CollectorConfig(), obd=obd, gps=GpsState())
            replay(collector, lines, start=first_fix - 5)  # the void fixes before the first one: same day
            collector.end_current_trip("end of replay")
            collector.shutdown(collector.detector.last_ts or 0.0)
    finally:
        obd.close()
        emulator.terminate()


class _LoopbackServer:
    def __init__(self, app):
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def test_nmea_and_obd_trip_to_duckdb(tmp_path, monkeypatch):
    warnings.simplefilter("ignore")
    monkeypatch.chdir(tmp_path)  # keep any emulator log out of the repository
    from edge_collector.buffer import EventBuffer
    from edge_collector.chunking import cut_trip
    from edge_collector.upload import IngestClient, RetryPolicy, upload_ready_trips

    _replay_drive(tmp_path / "buffer.db")
    storage = FleetStorage(data_dir=str(tmp_path / "data"))
    with EventBuffer(tmp_path / "buffer.db") as buffer:
        trips = buffer.trips()
        assert len(trips) >= 2 and all(t["ended_at"] for t in trips)  # the backwards clock jump splits the drive
        vins = sorted({t["vin"] for t in trips})
        records = {t["trip_id"]: list(buffer.iter_records(t["trip_id"])) for t in trips}
        keys = tmp_path / "keys.json"
        keys.write_text(json.dumps({"devices": [{"device": "van-e2e", "vins": vins,
                                                 "key_sha256": hashlib.sha256(KEY.encode()).hexdigest()}]}))
        app = create_app(storage.landing_dir, KeyRing.load(keys))
        with _LoopbackServer(app) as url, IngestClient(url, KEY) as client:
            results = upload_ready_trips(buffer, client, tmp_path / "cut", cut=partial(cut_trip, max_records_per_chunk=3),
                                         retry=RetryPolicy(attempts=3, initial_wait_s=0.05))
            assert sorted((r.trip_id, r.complete, r.error) for r in results) == sorted((t, True, None) for t in records)
            assert sum(r.chunks_sent for r in results) > len(records)  # several chunks per trip
            status = httpx.get(f"{url}/v1/trips/{trips[0]['trip_id']}", headers={"Authorization": f"Bearer {KEY}"})
            assert status.json()["complete"] is True
        assert buffer.trips_ready_for_upload() == []  # marked uploaded only after the server confirmed

    with dg.instance_for_test() as instance:
        defs = dg.Definitions.merge(trips_defs, dg.Definitions(resources={"storage": storage}))
        tick = completed_trips_sensor(dg.build_sensor_context(instance=instance, definitions=defs,
                                                              resources={"storage": storage}))
        assert [r.partition_key for r in tick.run_requests] == [REPLAY_DAY]
        from fleet_assets.provider_ingest.assets import telemetry  # the pipeline area's union of normalized_* datasets

        for request in tick.run_requests:
            result = dg.materialize([*TRIP_ASSETS, telemetry], partition_key=request.partition_key, instance=instance,
                                    resources={"storage": storage}, tags=request.tags)
            assert result.success
        again = completed_trips_sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor,
                                                               definitions=defs, resources={"storage": storage}))
        assert again.run_requests == []

    events = [r for recs in records.values() for r in recs if r["kind"] == "event"]
    with_fix = [r for r in events if r["lat"] is not None]
    got = duckdb.sql(
        f"select count(*), count(distinct (trip_id, seq)), max(speed_kph), max(rpm), count(*) filter (where clock_skew), "
        f"any_value(date)::varchar from read_parquet('{parquet_glob(storage.dataset('edge_events'))}', hive_partitioning=true)"
    ).fetchall()[0]
    assert got[0] == got[1] == len(events) and got[2] > 0 and got[3] > 0 and got[4] == 0 and got[5] == REPLAY_DAY
    summaries = duckdb.sql(
        f"select trip_id, event_count, distance_km from read_parquet('{parquet_glob(storage.dataset('trip_summaries'))}')"
    ).fetchall()
    assert sorted(row[0] for row in summaries) == sorted(records)
    assert max(row[2] for row in summaries) > 0.01  # the 30-knot recording moves ~15 m per half second
    edge_rows = duckdb.sql(
        f"select count(*) from read_parquet('{parquet_glob(storage.dataset('telemetry'))}', hive_partitioning=true) "
        f"where provider = 'edge' and vin in ({', '.join(repr(v) for v in vins)})").fetchall()[0][0]
    assert edge_rows == len(with_fix) > 0
