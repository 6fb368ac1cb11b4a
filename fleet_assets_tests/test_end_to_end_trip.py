"""End to end: a real NMEA log + an ELM327-emulated car → edge buffer → HTTP upload → sensor → assets → DuckDB.

Collector side (GPL, imported only here in the tests): GPS fixes come from the
gpsd regression log bt451.log (real receiver output, parsed with pynmea2, its
2009 timeline shifted to 2025-03-04 so it lands in a valid daily partition);
OBD values are read through python-OBD from ELM327-emulator on a pty; both go
into the collector's SQLite EventBuffer and the trip is cut with the
collector's ``chunking.cut_trip`` (7 records per chunk, so several chunks). The uploader sends it over loopback HTTP to a uvicorn
ingest server started here; then the sensor ticks, the run requests are
materialized with ``dg.materialize`` and the rows are queried with DuckDB.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import warnings
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import dagster as dg
import duckdb
import httpx
import pytest
import uvicorn

from fleet_assets.ingest.app import create_app
from fleet_assets.ingest.keys import KeyRing
from fleet_assets.resources.storage import FleetStorage
from fleet_assets.storage.parquet_partitions import parquet_glob
from fleet_assets.trips.assets import TRIP_ASSETS
from fleet_assets.trips.defs import defs as trips_defs
from fleet_assets.trips.sensor import completed_trips_sensor

pytestmark = pytest.mark.slow

VIN = "1FTFW1E50PFA00001"
KEY = "e2e-device-key"
NMEA_CANDIDATES = [
    Path(__file__).resolve().parents[1] / "edge_collector" / "tests" / "data" / "nmea" / "bt451.log",
    Path(__file__).resolve().parents[2] / "shared" / "data" / "nmea" / "bt451.log",
]
REPLAY_START = datetime(2025, 3, 4, 10, 0, tzinfo=timezone.utc)


def _nmea_fixes() -> list[dict]:
    import pynmea2

    path = next(p for p in NMEA_CANDIDATES if p.exists())
    fixes = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("#") or "RMC" not in line[:6]:
            continue
        msg = pynmea2.parse(line.strip(), check=True)
        if msg.status != "A" or msg.datestamp is None:
            continue
        fixes.append({"when": datetime.combine(msg.datestamp, msg.timestamp).replace(tzinfo=timezone.utc),
                      "lat": msg.latitude, "lon": msg.longitude})
    assert len(fixes) >= 10, f"{path} has too few valid RMC fixes"
    first = fixes[0]["when"]
    for fix in fixes:
        fix["ts"] = REPLAY_START + (fix["when"] - first)
    return fixes


def _record_trip(buffer) -> tuple[str, list[dict]]:
    """Drive the emulated car along the NMEA track, storing fused samples in the buffer."""
    import obd
    from elm import Elm

    obd.logger.setLevel(logging.CRITICAL)
    logging.getLogger().setLevel(logging.WARNING)
    fixes = _nmea_fixes()
    with Elm(batch_mode=True) as emulator:
        connection = obd.OBD(emulator.get_pty(), fast=False, timeout=2, check_voltage=False)
        assert connection.is_connected(), connection.status()
        trip_id = buffer.start_trip(VIN, fixes[0]["ts"])
        records = []
        for fix in fixes:
            rpm = connection.query(obd.commands.RPM).value
            speed = connection.query(obd.commands.SPEED).value
            coolant = connection.query(obd.commands.COOLANT_TEMP).value
            throttle = connection.query(obd.commands.THROTTLE_POS).value
            records.append({
                "ts": fix["ts"], "lat": fix["lat"], "lon": fix["lon"],
                "speed_kph": float(speed.magnitude) if speed is not None else None,
                "rpm": float(rpm.magnitude) if rpm is not None else None,
                "coolant_c": float(coolant.magnitude) if coolant is not None else None,
                "throttle_pos": float(throttle.magnitude) / 100 if throttle is not None else None,
            })
        connection.close()
    buffer.append(trip_id, records)
    buffer.end_trip(trip_id, max(fix["ts"] for fix in fixes))
    return trip_id, fixes


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
    monkeypatch.chdir(tmp_path)  # ELM327-emulator writes elm.log into the working directory
    from edge_collector.buffer import EventBuffer
    from edge_collector.chunking import cut_trip
    from edge_collector.upload import IngestClient, RetryPolicy, upload_ready_trips

    storage = FleetStorage(data_dir=str(tmp_path / "data"))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"devices": [{"device": "van-e2e", "key_sha256": hashlib.sha256(KEY.encode()).hexdigest(),
                                             "vins": [VIN]}]}))

    with EventBuffer(tmp_path / "buffer.db") as buffer:
        trip_id, fixes = _record_trip(buffer)
        n_events = len(fixes)
        # bt451.log is two recordings back to back: the receiver clock jumps ~52 min backwards.
        jumped_back = sum(fix["ts"] < fixes[0]["ts"] for fix in fixes)
        assert jumped_back > 0
        app = create_app(storage.landing_dir, KeyRing.load(keys))
        with _LoopbackServer(app) as url, IngestClient(url, KEY) as client:
            results = upload_ready_trips(buffer, client, tmp_path / "cut", cut=partial(cut_trip, max_records_per_chunk=7),
                                         retry=RetryPolicy(attempts=3, initial_wait_s=0.05))
            assert [(r.trip_id, r.complete, r.error) for r in results] == [(trip_id, True, None)]
            assert results[0].chunks_sent >= 2
            assert httpx.get(f"{url}/v1/trips/{trip_id}", headers={"Authorization": f"Bearer {KEY}"}).json()["complete"]
        assert buffer.trips_ready_for_upload() == []  # marked uploaded only after the server confirmed

    with dg.instance_for_test() as instance:
        defs = dg.Definitions.merge(trips_defs, dg.Definitions(resources={"storage": storage}))
        tick = completed_trips_sensor(dg.build_sensor_context(instance=instance, definitions=defs,
                                                              resources={"storage": storage}))
        assert [r.partition_key for r in tick.run_requests] == ["2025-03-04"]
        from fleet_assets.pipeline.assets import telemetry  # the pipeline area's union of normalized_* datasets

        for request in tick.run_requests:
            result = dg.materialize([*TRIP_ASSETS, telemetry], partition_key=request.partition_key, instance=instance,
                                    resources={"storage": storage}, tags=request.tags)
            assert result.success
        again = completed_trips_sensor(dg.build_sensor_context(instance=instance, cursor=tick.cursor,
                                                               definitions=defs, resources={"storage": storage}))
        assert again.run_requests == []

    events = duckdb.sql(
        f"select count(*), count(distinct seq), max(speed_kph), count(*) filter (where clock_skew), "
        f"min(ts) filter (where not clock_skew), any_value(date) "
        f"from read_parquet('{parquet_glob(storage.dataset('edge_events'))}', hive_partitioning=true) "
        f"where trip_id = '{trip_id}'").fetchall()[0]
    assert events[0] == events[1] == n_events
    assert events[2] > 0 and events[3] == jumped_back  # the backwards clock jump is flagged, not dropped
    assert events[4] == REPLAY_START
    assert str(events[5]) == "2025-03-04"
    summary = duckdb.sql(
        f"select event_count, clock_skew_events, distance_km, duration_s "
        f"from read_parquet('{parquet_glob(storage.dataset('trip_summaries'))}')"
    ).fetchall()
    assert len(summary) == 1 and summary[0][:2] == (n_events, jumped_back)
    # statistics only over the unflagged segment: a few metres in 3.5 s, not the 2 km jump between recordings
    assert 0 < summary[0][2] < 0.05 and summary[0][3] == pytest.approx(3.5)
    edge_rows = duckdb.sql(
        f"select count(*) from read_parquet('{parquet_glob(storage.dataset('telemetry'))}', hive_partitioning=true) "
        f"where provider = 'edge' and provider_vehicle_id = '{VIN}'").fetchall()[0][0]
    assert edge_rows == n_events
