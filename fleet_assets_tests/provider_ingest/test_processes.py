"""Separate processes: 4 partitions materialized concurrently, and a run SIGKILLed mid-write."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pyarrow as pa
import pytest

import dagster as dg

from fleet_assets.provider_ingest.defs import PIPELINE_ASSETS
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.warehouse.resources import FleetStorage
from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.storage.catalog import connect_parquet
from fleet_assets.storage.parquet_partitions import PART_FILE, partition_dir, write_partition

from .conftest import POINTS, seed_raw  # noqa: TID252

RUNNER = textwrap.dedent(
    """
    import json, sys, dagster as dg
    from fleet_assets.provider_ingest.defs import PIPELINE_ASSETS
    from fleet_assets.warehouse.assets import warehouse_catalog
    from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
    from fleet_assets.warehouse.resources import FleetStorage
    data_dir, day, url = sys.argv[1:4]
    resources = {
        "storage": FleetStorage(data_dir=data_dir),
        "motive": MotiveResource(api_key="sandbox-motive-key", base_url=url, rate_limit_per_s=1000, rate_limit_burst=100),
        "samsara": SamsaraResource(api_key="sandbox-samsara-token", base_url=url, rate_limit_per_s=1000, rate_limit_burst=100),
    }
    res = dg.materialize(PIPELINE_ASSETS, partition_key=day, resources=resources)
    cat = dg.materialize([warehouse_catalog], resources={"storage": resources["storage"]})
    checks = [c.passed for c in res.get_asset_check_evaluations()]
    print(json.dumps({"day": day, "success": res.success and cat.success, "checks": checks}))
    """
)


@pytest.mark.slow
def test_four_partitions_in_parallel_processes(storage):
    """Four runs at once, each fetching from one shared loopback sandbox, then rebuilding the catalog."""
    days = [f"2025-04-0{i}" for i in range(1, 5)]
    with serve_in_thread(SandboxConfig(motive_vehicles=4, samsara_vehicles=4, interval_s=300)) as url:
        procs = [
            subprocess.Popen([sys.executable, "-c", RUNNER, storage.data_dir, day, url],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for day in days
        ]
        outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
        assert "Could not set lock" not in err and "Conflicting lock" not in err
        result = json.loads(out.strip().splitlines()[-1])
        assert result["success"] and len(result["checks"]) == 17 and all(result["checks"])  # incl. 2 quarantine checks
    # Every partition is exactly what a lone, in-process run of that day produces.
    with connect_parquet(storage.root / "parquet") as con:
        counts = con.execute("SELECT date::VARCHAR, count(*), count(DISTINCT provider) FROM telemetry GROUP BY 1 ORDER BY 1").fetchall()
    assert [(d, p) for d, _, p in counts] == [(day, 2) for day in days]
    reference = FleetStorage(data_dir=str(storage.root.parent / "reference"))
    with serve_in_thread(SandboxConfig(motive_vehicles=4, samsara_vehicles=4, interval_s=300)) as url:
        resources = {"storage": reference, "motive": MotiveResource(api_key="sandbox-motive-key", base_url=url, rate_limit_per_s=1000, rate_limit_burst=100),
                     "samsara": SamsaraResource(api_key="sandbox-samsara-token", base_url=url, rate_limit_per_s=1000, rate_limit_burst=100)}
        for day in days:
            assert dg.materialize(PIPELINE_ASSETS, partition_key=day, resources=resources).success
            concurrent = (partition_dir(storage.dataset("telemetry"), day) / PART_FILE).read_bytes()
            assert (partition_dir(reference.dataset("telemetry"), day) / PART_FILE).read_bytes() == concurrent


KILLED_RUN = textwrap.dedent(
    """
    import sys, dagster as dg
    from fleet_assets.provider_ingest.assets import telemetry
    from fleet_assets.warehouse.resources import FleetStorage
    print("start", flush=True)
    dg.materialize([telemetry], partition_key=sys.argv[2], resources={"storage": FleetStorage(data_dir=sys.argv[1])})
    """
)


def _big_samsara_day(day: str, n: int) -> pa.Table:
    rng = np.random.default_rng(7)
    start = np.datetime64(day, "us").astype(np.int64)
    vehicle = rng.integers(0, 500, n)
    ts = start + np.sort(rng.integers(0, 86_400_000_000, n))
    vins = np.array([f"BIGVIN{i:011d}" for i in range(500)])
    return pa.table({
        "provider": pa.repeat(pa.scalar("samsara"), n), "provider_vehicle_id": pa.array(vehicle.astype(str)),
        "vin": pa.array(vins[vehicle]), "fleet_number": pa.nulls(n, pa.string()),
        "timestamp": pa.array(ts, pa.timestamp("us", tz="UTC")), "latitude": rng.uniform(-60, 60, n),
        "longitude": rng.uniform(-120, 120, n), "speed_mph": rng.uniform(0, 80, n), "heading_degrees": rng.uniform(0, 360, n),
        "engine_state": pa.nulls(n, pa.string()), "driver_id": pa.nulls(n, pa.string()), "driver_name": pa.nulls(n, pa.string()),
        "location_description": pa.nulls(n, pa.string()), "odometer": rng.uniform(0, 1e6, n),
    }).cast(TELEMETRY_SCHEMA)


@pytest.mark.slow
def test_sigkill_during_telemetry_write_keeps_previous_partition(storage):
    day = "2026-05-01"
    seed_raw(storage, day)
    from fleet_assets.provider_ingest.assets import normalized_samsara, telemetry

    assert dg.materialize([normalized_samsara, telemetry], partition_key=day, resources={"storage": storage}).success
    target = partition_dir(storage.dataset("telemetry"), day)
    previous = (target / PART_FILE).read_bytes()
    write_partition(storage.dataset("normalized_samsara"), day, _big_samsara_day(day, 2_000_000))

    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, storage.data_dir, day], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().strip() == "start"
        deadline = time.monotonic() + 120
        while not any(p.name.endswith(".tmp") for p in target.iterdir()):
            assert proc.poll() is None, "run finished before it was killed: make the day bigger"
            assert time.monotonic() < deadline
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert (target / PART_FILE).read_bytes() == previous
    with connect_parquet(storage.root / "parquet") as con:
        assert con.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 2 * POINTS
    # A clean re-run then replaces the partition with the new day.
    assert dg.materialize([telemetry], partition_key=day, resources={"storage": storage}).success
    with connect_parquet(storage.root / "parquet") as con:
        assert con.execute("SELECT count(*) FROM telemetry").fetchone()[0] == 2_000_000
