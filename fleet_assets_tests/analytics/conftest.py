"""Fixtures for the analytics upload: one synthetic day written with write_partition, sandbox backends.

The day: ``VEHICLES`` trucks reported by Motive, one VIN-less Samsara truck,
OBD events for the VIN trucks (SoC only on odd seqs, one NaN coolant) and a
few DTCs. Every (vehicle, timestamp) is unique, so the expected backend
counts follow from the generator alone: GPS = telemetry rows, signals =
non-null finite PID values, DTCs = DTC rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from fleet_assets.analytics.ledger import Ledger
from fleet_assets.analytics.sandbox import AnalyticsSandbox, AnalyticsSandboxTransport, FaultPlan, serve_in_thread
from fleet_assets.analytics.sender import GraphQLSender, RetryPolicy
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.uploader import PartitionData, PartitionUploader
from fleet_assets.analytics.wiring import open_ledger
from fleet_assets.storage.layout import DataLayout
from fleet_assets.warehouse.resources import FleetStorage
from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.parquet_partitions import write_partition

DAY = "2025-06-01"
VEHICLES = 4
PID_COLUMNS = ("speed_kph", "rpm", "coolant_c", "throttle_pos", "fuel_level_pct", "soc_pct")


@dataclass
class Day:
    data: PartitionData
    expected: dict[str, int]


def vin(n: int) -> str:
    return f"1FTEST0000000{n:04d}"


def make_day(day: str = DAY, points: int = 300, events: int = 250, dtcs: int = 6) -> Day:
    t0 = datetime.fromisoformat(day).replace(tzinfo=UTC)
    tel_rows = []
    for v in range(VEHICLES):
        for i in range(points):
            tel_rows.append({"provider": "motive", "provider_vehicle_id": str(v), "vin": vin(v), "fleet_number": f"T{v}",
                             "timestamp": t0 + timedelta(seconds=30 * i + v), "latitude": 40 + i / 1000,
                             "longitude": -90 - v / 100, "speed_mph": float(i % 70), "heading_degrees": float(i % 360),
                             "engine_state": "On", "driver_id": None, "driver_name": None,
                             "location_description": None, "odometer": 1000.0 + i})
    for i in range(points // 3):
        tel_rows.append({"provider": "samsara", "provider_vehicle_id": "s-77", "vin": None, "fleet_number": None,
                         "timestamp": t0 + timedelta(seconds=60 * i), "latitude": 41.0, "longitude": -91.0,
                         "speed_mph": None, "heading_degrees": None, "engine_state": None, "driver_id": None,
                         "driver_name": None, "location_description": None, "odometer": None})
    ev_rows = []
    for v in range(VEHICLES - 1):
        for i in range(events):
            ev_rows.append({"vin": vin(v), "trip_id": f"trip-{v}", "seq": i, "ts": t0 + timedelta(seconds=10 * i),
                            "lat": 40.0, "lon": -90.0, "speed_kph": float(i % 120), "rpm": 800.0 + i,
                            "coolant_c": math.nan if (v, i) == (0, 5) else 85.0 + i % 10,
                            "throttle_pos": float(i % 100), "soc_pct": 50.0 + i % 50 if i % 2 else None,
                            "fuel_level_pct": 60.0 - i % 30, "clock_skew": i % 50 == 0})
    dtc_rows = [{"vin": vin(i % 2), "trip_id": "trip-0", "seq": 10_000 + i, "ts": t0 + timedelta(minutes=i),
                 "code": f"P03{i:02d}", "description": None if i == 0 else f"Cylinder {i} misfire",
                 "status": "active"} for i in range(dtcs)]
    ts = pa.timestamp("us", tz="UTC")
    telemetry = pa.Table.from_pylist(tel_rows, schema=TELEMETRY_SCHEMA)
    edge_events = pa.Table.from_pylist(ev_rows, schema=pa.schema([
        ("vin", pa.string()), ("trip_id", pa.string()), ("seq", pa.int64()), ("ts", ts), ("lat", pa.float64()),
        ("lon", pa.float64()), ("speed_kph", pa.float64()), ("rpm", pa.float64()), ("coolant_c", pa.float64()),
        ("throttle_pos", pa.float64()), ("soc_pct", pa.float64()), ("fuel_level_pct", pa.float64()),
        ("clock_skew", pa.bool_())]))
    edge_dtcs = pa.Table.from_pylist(dtc_rows, schema=pa.schema([
        ("vin", pa.string()), ("trip_id", pa.string()), ("seq", pa.int64()), ("ts", ts), ("code", pa.string()),
        ("description", pa.string()), ("status", pa.string())]))
    signals = sum(1 for r in ev_rows for c in PID_COLUMNS if r[c] is not None and not math.isnan(r[c]))
    # network stats: one per (vehicle, provider) in telemetry + one per VIN with edge data
    expected = {"gps": len(tel_rows), "signal": signals, "dtc": len(dtc_rows),
                "network_stats": VEHICLES + 1 + (VEHICLES - 1)}
    return Day(PartitionData(telemetry, edge_events, edge_dtcs), expected)


@pytest.fixture
def day() -> Day:
    return make_day()


@pytest.fixture
def storage(tmp_path: Path) -> FleetStorage:
    return FleetStorage(data_dir=str(tmp_path / "data"))


@pytest.fixture
def write_day(storage):
    def _write(d: Day, key: str = DAY) -> None:
        write_partition(storage.dataset("telemetry"), key, d.data.telemetry)
        write_partition(storage.dataset("edge_events"), key, d.data.edge_events)
        write_partition(storage.dataset("edge_dtcs"), key, d.data.edge_dtcs)
    return _write


FAST_RETRY = RetryPolicy(max_attempts=8, initial_seconds=0.001, max_seconds=0.005)


def _settings(**values) -> UploadSettings:
    """Settings for a test; ``fleet_id`` outside GraphQL Int skips the bounds (to test the sender's own check)."""
    if values.get("fleet_id", 0) > 2**31 - 1:
        return UploadSettings.model_construct(**values)
    return UploadSettings(**values)


# Core ledger-level tests take this mark to run on both stores; the others stay on the embedded one, so the
# Postgres store costs only the tests that exercise the ledger itself.
BOTH_LEDGERS = pytest.mark.parametrize("ledger_store", ["embedded", "postgres"], indirect=True)


@pytest.fixture
def ledger_store(request, storage, monkeypatch):
    """``open(endpoint)`` → the upload ledger, chosen as the product chooses it (``wiring.open_ledger``).

    "embedded" (the default): the DuckDB file in ``storage``'s data dir. "postgres": a fresh database on the
    session's real PostgreSQL, also exported as ``FLEET_STATE_URL`` so the asset and CLI subprocesses use it.
    """
    state_url = None
    if getattr(request, "param", "embedded") == "postgres":
        state_url = request.getfixturevalue("state_url")
        monkeypatch.setenv("FLEET_STATE_URL", state_url)
    layout = DataLayout(storage.root, state_url=state_url)
    opened: list[Ledger] = []

    def _open(endpoint: str) -> Ledger:
        opened.append(open_ledger(layout, UploadSettings(), endpoint))
        return opened[-1]

    _open.state_url = state_url
    yield _open
    for ledger in opened:
        ledger.close()


@pytest.fixture
def run_upload(ledger_store):
    """Upload ``data`` through the in-process sandbox transport; returns the report."""

    def _run(backend: AnalyticsSandbox, data: PartitionData, key: str = DAY, retry: RetryPolicy = FAST_RETRY,
             **settings) -> object:
        ledger = ledger_store("sandbox://test")
        with GraphQLSender("http://sandbox.test/graphql", httpx_transport=AnalyticsSandboxTransport(backend),
                           retry=retry) as sender:
            return PartitionUploader(sender, ledger, _settings(**settings)).upload(key, data)

    _run.ledger = lambda: ledger_store("sandbox://test")
    return _run


@pytest.fixture
def loopback():
    """A loopback uvicorn sandbox; yields (backend, url) for a given fault plan."""
    servers = []

    def _start(faults: FaultPlan | None = None, token: str | None = None):
        backend = AnalyticsSandbox(faults, required_token=token)
        cm = serve_in_thread(backend)
        url = cm.__enter__()
        servers.append(cm)
        return backend, url

    yield _start
    for cm in servers:
        cm.__exit__(None, None, None)
