"""The raw fetch streams: pages are staged as they arrive and the raw files written shard by shard.

Real HTTP against a loopback sandbox server. The streamed day must give exactly the raw files of the list
path (the whole day in the clients' lists, merged and split in memory, as before streaming): same names,
same bytes, same shard count, with Samsara vehicles spanning pages (merged per vehicle), repeated
readings and quarantined records in the day.
"""

import tempfile
import threading
from datetime import timedelta

import dagster as dg
import pytest

from fleet_assets.days import day_bounds
from fleet_assets.provider_ingest.assets import raw_samsara
from fleet_assets.provider_ingest.fetch import (SAMSARA_ODOMETER_LOOKAHEAD, SAMSARA_STATE_LOOKBACK, fetch_motive_day,
                                                fetch_samsara_day, motive_raw_files, samsara_raw_files)
from fleet_assets.provider_ingest.resources import SamsaraResource
from fleet_assets.providers import MotiveClient, SamsaraClient
from fleet_assets.providers.client import STREAM_BUFFER
from fleet_assets.providers.errors import ProviderUnavailableError
from fleet_assets.sandbox import FaultConfig, SandboxConfig, serve_in_thread
from fleet_assets.storage.raw_store import read_raw
from fleet_assets.transforms.wire import motive_location_records, motive_vehicle_records

DAY = "2025-06-02"
CONFIG = SandboxConfig(motive_vehicles=8, samsara_vehicles=8, interval_s=600, samsara_page_size=3,
                       malformed_records=True, faults=FaultConfig(duplicate_rate=0.05))
SHARD_ROWS = 40
FAST = {"rate_limit_per_s": 1000.0, "max_retries": 2, "backoff_base_s": 0.0, "backoff_max_s": 0.0}


def _clients(url: str) -> tuple[MotiveClient, SamsaraClient]:
    return (MotiveClient.from_key(CONFIG.motive_api_key, url, **FAST),
            SamsaraClient.from_token(CONFIG.samsara_api_token, url, **FAST))


def _streamed(fetch, client) -> tuple[dict[str, bytes], dict]:
    with fetch(client, DAY, SHARD_ROWS) as raw:
        return dict(raw.pieces()), raw.manifest


def test_streamed_raw_day_equals_the_whole_day_in_lists():
    start, end = day_bounds(DAY)
    with serve_in_thread(CONFIG) as url:
        motive, samsara = _clients(url)
        m_files, m_manifest = _streamed(fetch_motive_day, motive)
        s_files, s_manifest = _streamed(fetch_samsara_day, samsara)
        lists_m, lists_s = _clients(url)
        result = lists_m.fetch_vehicle_locations(start, end)
        stats = lists_s.fetch_stats_history(start - SAMSARA_STATE_LOOKBACK, end + SAMSARA_ODOMETER_LOOKAHEAD)
        assignments = lists_s.fetch_driver_assignments(start, end)
        pages = list(lists_s.iter_stats_pages(start - SAMSARA_STATE_LOOKBACK, end + SAMSARA_ODOMETER_LOOKAHEAD))
    # the day exercises the per-vehicle merge: vehicles on two pages, repeated readings dropped
    ids = [r["id"] for page in pages for r in page]
    assert len(ids) > len(set(ids)) == len(stats)
    assert sum(len(r.get("gps") or []) for page in pages for r in page) > sum(len(r.get("gps") or []) for r in stats)
    locations = motive_location_records(result.locations)
    want_m, m_shards = motive_raw_files(motive_vehicle_records(result.vehicles), locations, SHARD_ROWS)
    want_s, s_shards = samsara_raw_files(stats, assignments, SHARD_ROWS)
    assert m_manifest["shards"] == m_shards >= 8 and s_manifest["shards"] == s_shards >= 8
    assert {k: v for k, v in m_files.items() if k != "quarantine"} == want_m
    assert {k: v for k, v in s_files.items() if k != "quarantine"} == want_s
    assert m_manifest["counts"]["locations"] == len(locations)
    assert s_manifest["counts"] == {"vehicles": len(stats), "gps_points": sum(len(r.get("gps") or []) for r in stats),
                                    "assignments": len(assignments), "quarantined": s_manifest["counts"]["quarantined"]}
    assert s_manifest["counts"]["quarantined"] > 0 and "quarantine" in s_files  # stored with the streamed day


def test_a_fetch_failing_mid_day_keeps_the_previous_raw_and_stages_nothing(tmp_path, monkeypatch, storage):
    resources = {"storage": storage, "samsara": SamsaraResource(sandbox_vehicles=3, sandbox_interval_s=600)}
    assert dg.materialize([raw_samsara], partition_key=DAY, resources=resources).success
    before = read_raw(storage.raw_dir, "samsara", DAY)
    staging = tmp_path / "staging"
    staging.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(staging))  # where the fetch stages its pages
    # The stats walk succeeds (staged); the assignments walk then fails for good.
    script = {"/fleet/driver-vehicle-assignments": ("http_503",) * 50}
    with serve_in_thread(SandboxConfig(samsara_vehicles=3, faults=FaultConfig(script=script))) as url:
        failing = SamsaraResource(api_key="sandbox-samsara-token", base_url=url, max_retries=1, backoff_base_s=0.0,
                                  backoff_max_s=0.0)
        with pytest.raises(ProviderUnavailableError, match=r"samsara driver_vehicle_assignments: gave up .* HTTP 503"):
            dg.materialize([raw_samsara], partition_key=DAY, resources={**resources, "samsara": failing})
    after = read_raw(storage.raw_dir, "samsara", DAY)
    assert after.path == before.path and after.files == before.files
    versions = [p.name for p in (storage.root / "raw" / "samsara" / f"date={DAY}").iterdir() if p.name.startswith("v-")]
    assert versions == [before.location.name]  # no partial version left behind
    assert list(staging.iterdir()) == []


def test_closing_a_stream_early_stops_the_fetch():
    config = SandboxConfig(samsara_vehicles=16, interval_s=600, samsara_page_size=1)
    start, end = day_bounds(DAY)
    with serve_in_thread(config) as url:
        client = SamsaraClient.from_token(config.samsara_api_token, url, **FAST)
        pages = client.iter_stats_pages(start, end + timedelta(minutes=30))
        first = next(pages)
        pages.close()
        assert first and client.requests_sent <= STREAM_BUFFER + 2  # the buffer, one waiting, one prefetched
        assert len(list(client.iter_stats_pages(start, end + timedelta(minutes=30)))) > STREAM_BUFFER + 2
        assert not [t for t in threading.enumerate() if t.name == "samsara-fetch"]
        
