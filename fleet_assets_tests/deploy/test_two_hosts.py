"""Two run-worker "machines" on loopback executing one deployed instance's runs (issue 11, item 4).

One PostgreSQL holds the Dagster instance (deploy/dagster.yaml via DAGSTER_PG_URL) and, in another database,
the platform state (FLEET_STATE_URL); one S3 (moto) holds the data. The control plane is one
``dagster-daemon``; the two hosts are ``fleet-run-worker`` processes with their own DAGSTER_HOME scratch,
FLEET_DATA_DIR and working directory (scripts/worker_hosts.py). Providers are the sandbox served over HTTP
(requests and concurrency counted at the server), analytics the sandbox GraphQL backend over HTTP, edge trips
are landed through the ingest service's own functions into the S3 landing zone (completion log in Postgres).
The backfill covers every partitioned asset of the code location; the unpartitioned catalog is materialized
on a worker host afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest

from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.analytics.sandbox.app import serve_in_thread as serve_analytics
from fleet_assets.analytics.sandbox.backend import AnalyticsSandbox
from fleet_assets.definitions import defs
from fleet_assets.ingest.landing import LandingZone
from fleet_assets.ingest.synthetic import synthetic_trip, utc
from fleet_assets.provider_ingest.resources import MotiveResource, SamsaraResource
from fleet_assets.sandbox import SandboxConfig, serve_in_thread
from fleet_assets.storage.catalog import DATASETS
from fleet_assets.storage.layout import DataLayout
from fleet_assets.warehouse.resources import FleetStorage

from ..storage.digests import output_digests
from .cluster import new_database, worker_hosts
from ..trips.conftest import land

# Six days: the three trip days (06-02, 06-03, 06-06), three provider-only days beside them (06-01 is the
# baseline the trip days are compared with), and six runs + one retry for three slots: three waves, so host-0 claims
# runs after its wipe and fetches overlap in the pools. (06-07/08 were two more provider-only days: no more coverage.)
DAYS = [f"2025-06-{d:02d}" for d in range(1, 7)]
# The whole pipeline: every partitioned asset of the code location (providers, trips, telemetry, analytics).
GRAPH = defs.resolve_asset_graph()
ASSETS = sorted(k.to_user_string() for k in GRAPH.get_all_asset_keys() if GRAPH.get(k).partitions_def is not None)
CATALOG = "warehouse_catalog"  # unpartitioned: materialized once after the backfill, on a worker host
# Edge trips landed before the backfill: one crossing midnight (2025-06-02 -> 06-03), one on 2025-06-06.
TRIPS = [synthetic_trip("1FTFW1E50PFA00001", "6f1c0b7e-2a5d-4c1e-9a7b-0c3d2e1f4a01", utc(2025, 6, 2, 23, 57, 0),
                        360, per_chunk=120),
         synthetic_trip("1FTFW1E50PFA00002", "6f1c0b7e-2a5d-4c1e-9a7b-0c3d2e1f4a02", utc(2025, 6, 6, 8, 0, 0),
                        150, per_chunk=75)]
MOTIVE_SIMULTANEOUS_CAP = 10  # Motive: at most 10 simultaneous vehicle_locations calls per account
# Small data, but enough Motive vehicles and latency that location calls pile up at the server: a fetch with
# the whole budget (10 req/s, 10 at once) keeps ~8 in flight, so two of them at once would exceed Motive's cap of
# 10; with the pool limit of 2 each takes half (5 req/s, 5 at once): ~4 each. The cap is also enforced (429).
SANDBOX = SandboxConfig(motive_vehicles=12, samsara_vehicles=4, interval_s=1800, latency_ms=800,
                        motive_max_simultaneous=MOTIVE_SIMULTANEOUS_CAP)




def _land_trips(zone: LandingZone) -> None:
    try:
        for trip in TRIPS:
            land(zone, trip)
    finally:
        zone.close()


def _embedded_reference(root: Path, days: list[str]) -> tuple[dict, dict]:
    """The same days materialized in-process on the embedded defaults, from an identical provider sandbox and
    the same trips. One job built once and one ephemeral instance for all days (not ``dg.materialize`` per day)."""
    storage = FleetStorage(data_dir=str(root))
    _land_trips(LandingZone.for_layout(storage.layout, fsync=False))
    with serve_in_thread(SANDBOX) as url, dg.DagsterInstance.ephemeral() as instance:
        resources = {**defs.resources, "storage": storage, "analytics": AnalyticsResource(),
                     "motive": MotiveResource(api_key=SANDBOX.motive_api_key, base_url=url),
                     "samsara": SamsaraResource(api_key=SANDBOX.samsara_api_token, base_url=url)}
        assets = list({id(a): a for a in (defs.get_assets_def(dg.AssetKey(n)) for n in ASSETS)}.values())
        job = dg.Definitions(assets=assets, resources=resources).resolve_implicit_global_asset_job_def()
        for day in days:
            assert job.execute_in_process(partition_key=day, instance=instance).success, day
    with duckdb.connect(str(storage.ledger_path), read_only=True) as con:
        acks = dict(((p, k), n) for p, k, n in con.execute(
            "SELECT partition_key, kind, count(*) FROM upload_records GROUP BY ALL").fetchall())
    return output_digests(storage, days, DATASETS), acks


def _wipe(host) -> None:
    """The host's local disk lost: its data dir and DAGSTER_HOME scratch (dagster.yaml comes back with the image)."""
    shutil.rmtree(host.data_dir, ignore_errors=True)
    for child in host.home.iterdir():
        if child.name != "dagster.yaml":
            shutil.rmtree(child) if child.is_dir() else child.unlink()


def _all_days_done(runs) -> bool:
    return all(r.is_finished for r in runs) and {r.tags["dagster/partition"] for r in runs
                                                 if r.status == dg.DagsterRunStatus.SUCCESS} == set(DAYS)


def _materialize_catalog(host):
    """The catalog asset materialized on a worker host, in its own environment and on its own disk."""
    return host.spawn(["dagster", "asset", "materialize", "--select", CATALOG, "-m", "fleet_assets.definitions"],
                      host.root / "catalog.log")


def _check_catalog(proc, host, instance, expected_rows: dict) -> None:
    """The catalog run succeeded and read every dataset from S3 (its row counts), writing only warehouse.sql."""
    assert proc.wait(timeout=300) == 0, (host.root / "catalog.log").read_text(errors="replace")[-3000:]
    meta = instance.get_latest_materialization_event(dg.AssetKey(CATALOG)).asset_materialization.metadata
    assert meta["rows"].value == expected_rows and meta["datasets_without_data"].value == "none", meta
    script = Path(meta["path"].value)
    assert script.parent == host.data_dir and script.name == "warehouse.sql", script
    assert all("s3://" in line for line in script.read_text().splitlines() if "read_parquet(" in line)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_hosts_backfill_with_a_killed_run_matches_embedded(tmp_path, postgres_server, s3_storage_url,
                                                              monkeypatch):
    dagster_db, state_db = new_database(postgres_server), new_database(postgres_server)
    # this process reads the instance too (to launch the backfill and watch it)
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_db.replace("postgresql://", "postgresql+psycopg2://", 1))
    analytics = AnalyticsSandbox()
    with serve_in_thread(SANDBOX) as providers, serve_analytics(analytics) as graphql:
        env = {**os.environ, "FLEET_STATE_URL": state_db, "FLEET_STORAGE_URL": s3_storage_url,
               "MOTIVE_API_KEY": SANDBOX.motive_api_key, "MOTIVE_BASE_URL": providers,
               "SAMSARA_API_TOKEN": SANDBOX.samsara_api_token, "SAMSARA_BASE_URL": providers,
               "GRAPH_SERVICE_URL": graphql}
        # host-0 (killed and wiped) runs one run at a time, so "between runs" is exact; host-1 two. The run limit
        # is the 3 slots: the queue launches no run that no worker can claim before run monitoring's start timeout
        cluster = worker_hosts.Cluster(tmp_path / "cluster", env, workers=2, slots=1, dequeue_interval_seconds=1,
                                       max_concurrent_runs=3, daemon_interval_seconds=5)
        cluster.hosts[1].slots = 2
        reference, reader = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
        # the embedded reference, computed meanwhile (the daemon mostly waits on its backfill ticks)
        embedded_future = reference.submit(_embedded_reference, tmp_path / "embedded", DAYS)
        try:
            # the trips are the backfill's to build: the trip sensor (its deployed path: trips/) would only rebuild
            # the same partitions in runs of its own
            cluster.stop_sensor("completed_trips_sensor")
            cluster.start()
            # devices uploaded their trips before the backfill: S3 landing zone, completion log in the state database
            _land_trips(LandingZone.for_layout(DataLayout(tmp_path / "device-upload", storage_url=s3_storage_url,
                                                          state_url=state_db)))
            cluster.set_pool("motive_api", 2)  # two fetches of a provider at once, each with half the budget
            cluster.set_pool("samsara_api", 2)
            backfill_id = cluster.launch_backfill(ASSETS, DAYS)
            wiped = cluster.hosts[0]
            killed: dict = {}

            def kill_one_run_mid_way_and_wipe_its_host(runs) -> None:
                """SIGKILL host-0's first run (its process group, as a pod dies) once a step of it succeeded,
                then wipe host-0's disk before it claims its next run (its worker paused meanwhile)."""
                if killed:
                    return
                for run_id, pid in wiped.live_run_processes().items():
                    if cluster.instance.get_run_stats(run_id).steps_succeeded >= 1:
                        os.kill(wiped.proc.pid, signal.SIGSTOP)
                        try:
                            os.killpg(pid, signal.SIGKILL)
                            killed.update(run_id=run_id, before=set(wiped.run_processes()))
                            _wipe(wiped)
                        finally:
                            os.kill(wiped.proc.pid, signal.SIGCONT)
                        return

            after: dict = {}

            def then_read_outputs_and_build_the_catalog(runs) -> None:
                """Once every day succeeded, the outputs are final: read them and build the catalog while the
                daemon's next 30 s backfill tick marks the backfill complete."""
                if killed and not after and _all_days_done(runs):
                    after["catalog"] = _materialize_catalog(cluster.hosts[1])
                    after["deployed"] = reader.submit(output_digests, FleetStorage(
                        data_dir=str(tmp_path / "reader"), storage_url=s3_storage_url), DAYS, DATASETS)

            status, runs = cluster.wait_for_backfill(backfill_id, timeout=480, on_poll=lambda runs: (
                kill_one_run_mid_way_and_wipe_its_host(runs), then_read_outputs_and_build_the_catalog(runs)))
            by_id = {r.run_id: r for r in runs}
            assert status == "COMPLETED_SUCCESS", cluster.summary(runs)
            # the killed run failed and a retry of it finished the day
            assert killed and by_id[killed["run_id"]].status == dg.DagsterRunStatus.FAILURE
            retries = [r for r in runs if r.tags.get("dagster/parent_run_id") == killed["run_id"]]
            assert [r.status for r in retries] == [dg.DagsterRunStatus.SUCCESS], cluster.summary(runs)
            succeeded = sorted(r.tags["dagster/partition"] for r in runs if r.status == dg.DagsterRunStatus.SUCCESS)
            assert succeeded == DAYS
            assert all(set(ASSETS) <= {k.to_user_string() for k in r.asset_selection} for r in runs
                       if r.run_id not in {x.run_id for x in retries})  # one run per day, the whole pipeline
            # both machines executed runs; the wiped one succeeded afterwards from S3 + Postgres alone
            hosts = cluster.run_hosts()
            assert {hosts[r.run_id] for r in runs} == {"host-0", "host-1"}, hosts
            after_wipe = set(wiped.run_processes()) - killed["before"]
            assert after_wipe and all(by_id[r].status == dg.DagsterRunStatus.SUCCESS for r in after_wipe)
            # no provider saw more concurrent requests than its cap, and none was throttled
            stats = providers.backend.stats()
            assert stats["motive /v3/vehicle_locations"]["peak_in_flight"] <= MOTIVE_SIMULTANEOUS_CAP, stats
            assert stats["motive"]["429"] == stats["samsara"]["429"] == 0, stats
            then_read_outputs_and_build_the_catalog(runs)  # (if the backfill completed before a poll saw it)
            deployed = after["deployed"].result()
            _check_catalog(after["catalog"], cluster.hosts[1], cluster.instance,
                           {name: deployed[name][0] for name in DATASETS})
            for host in cluster.hosts:
                assert not list(host.data_dir.rglob("*.parquet")), host.name
        finally:
            cluster.stop()
            reference.shutdown(wait=True)
            reader.shutdown(wait=True)

        # each record acknowledged once in the ledger (the killed run's upload was resumed, not repeated)
        with psycopg.connect(state_db) as conn:
            rows = conn.execute("SELECT partition_key, kind, count(*), count(DISTINCT (endpoint, fingerprint)) "
                                "FROM upload_records GROUP BY 1, 2").fetchall()
        deployed_acks = {(p, k): n for p, k, n, distinct in rows}
        assert all(n == distinct for _, _, n, distinct in rows), rows
        assert sum(deployed_acks.values()) == sum(analytics.stored_counts().values()) > 0

    embedded, embedded_acks = embedded_future.result()
    # the trips reached every trip dataset, telemetry and the upload: edge rows on 06-02, 06-03 and 06-06
    assert embedded["telemetry"][0] > 0 and all(embedded[n][0] > 0 for n in ("edge_events", "edge_dtcs",
                                                                              "trip_summaries", "normalized_edge"))
    kinds = {day: {k for p, k in embedded_acks if p == day} for day in DAYS}
    assert all(kinds[day] > kinds["2025-06-01"] for day in ("2025-06-02", "2025-06-03", "2025-06-06")), kinds
    assert deployed == embedded
    assert deployed_acks == embedded_acks
