"""Retries, Retry-After, the shared rate budget and persistent failures."""

import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest

from fleet_assets.providers import ProviderResponseError, ProviderUnavailableError
from fleet_assets.providers.retry_after import parse_retry_after
from fleet_assets.sandbox import FaultConfig
from fleet_assets.sandbox.config import TRANSIENT_KINDS

from .conftest import DAY_END, DAY_START

LOC3 = "/v3/vehicle_locations/8000003"
ASSIGN = "/fleet/driver-vehicle-assignments"
ONE_WALK = {"assignment_types": ()}  # one assignments walk (no per-assignmentType walks): exact request counts


def _canon(records) -> list[str]:
    return [json.dumps(r, sort_keys=True) for r in records]


def test_twenty_percent_faults_return_exactly_the_fault_free_records(rig):
    # every transient kind except the HTTP-date 429 (whole-second waits; tested on its own below)
    kinds = tuple(k for k in TRANSIENT_KINDS if k != "rate_limit_date")
    faults = FaultConfig(rate=0.2, kinds=kinds, retry_after_s=0.02, timeout_s=0.5, duplicate_rate=0.02)
    shape = dict(vehicles=30, samsara_page_size=4, interval_s=120)
    clean, faulty = rig(**shape), rig(**shape, faults=faults, read_timeout_s=0.1, max_concurrency=10)
    m_clean = clean.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    m_faulty = faulty.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    assert m_faulty.failed_vehicle_ids == []
    assert m_faulty.duplicates_dropped > 0  # the injected duplicates were removed, not passed on
    assert _canon(m_faulty.vehicles) == _canon(m_clean.vehicles)
    assert {k: _canon(v) for k, v in m_faulty.locations.items()} == {k: _canon(v) for k, v in m_clean.locations.items()}
    for fetch in ("fetch_stats_history", "fetch_driver_assignments"):
        a = getattr(clean.samsara, fetch)(DAY_START, DAY_END)
        b = getattr(faulty.samsara, fetch)(DAY_START, DAY_END)
        assert _canon(b) == _canon(a), fetch
    faulted = [r for r in faulty.backend.requests if r.fault]
    assert len({r.fault for r in faulted}) >= 4 and len(faulted) >= 0.12 * len(faulty.backend.requests)
    assert {r.provider for r in faulted} == {"motive", "samsara"}


def test_fractional_retry_after_is_honoured(rig):
    r = rig(vehicles=3, **ONE_WALK, faults=FaultConfig(retry_after_s=0.4, script={ASSIGN: ("rate_limit",)}))
    t0 = time.monotonic()
    rows = r.samsara.fetch_driver_assignments(DAY_START, DAY_END)
    elapsed = time.monotonic() - t0
    assert rows and 0.35 <= elapsed <= 0.9, elapsed
    first = r.requests(ASSIGN)[0]
    assert first.status == 429


def test_http_date_retry_after_is_honoured(rig):
    r = rig(vehicles=3, **ONE_WALK, faults=FaultConfig(retry_after_s=0.3, script={ASSIGN: ("rate_limit_date",)}))
    t0 = time.monotonic()
    rows = r.samsara.fetch_driver_assignments(DAY_START, DAY_END)
    elapsed = time.monotonic() - t0
    assert rows and 0.25 <= elapsed <= 2.5, elapsed  # the date has whole-second resolution (rounded up)
    assert [q.status for q in r.requests(ASSIGN)][:2] == [429, 200]


def test_parse_retry_after_forms():
    now = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("0.40235") == pytest.approx(0.40235)
    assert parse_retry_after("Mon, 02 Mar 2026 12:00:03 GMT", now=now) == pytest.approx(3.0)
    assert parse_retry_after("Mon, 02 Mar 2026 11:00:00 GMT", now=now) == 0.0  # in the past: go now
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None and parse_retry_after("-1") == 0.0


def test_a_429_pauses_all_concurrent_requests_of_the_provider(rig, caplog):
    r = rig(vehicles=16, faults=FaultConfig(retry_after_s=0.4, script={LOC3: ("rate_limit",)}), latency_ms=20,
            max_concurrency=4, interval_s=1800)  # small bodies: timing is about the network, not CPU
    offset = time.time() - time.monotonic()  # log records carry wall time, the sandbox log monotonic time
    with caplog.at_level(logging.WARNING, logger="fleet_assets.providers"):
        result = r.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    assert result.failed_vehicle_ids == [] and len(result.locations) == 16
    seen = next(rec.created - offset for rec in caplog.records if "HTTP 429" in rec.getMessage())
    reqs = r.requests()
    # from the moment the client saw the 429, nothing of this provider may go out for Retry-After (0.4 s)
    quiet = [q for q in reqs if seen + 0.01 < q.arrived < seen + 0.38]
    assert quiet == [], [(round(q.arrived - seen, 3), q.path) for q in quiet]
    later = [q for q in reqs if q.arrived >= seen + 0.38]
    assert len(later) >= 5  # the rest of the fleet (and the retry) went out after the pause
    retry = [q for q in r.requests(LOC3) if q.attempt == 1]
    assert retry and retry[0].arrived >= seen + 0.38


def test_server_rate_limit_is_absorbed_by_the_client(rig):
    r = rig(vehicles=12, rate_limit_per_s_server=20.0, rate_limit_per_s=2000.0, interval_s=1800)
    result = r.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    assert result.failed_vehicle_ids == []
    statuses = [q.status for q in r.requests()]
    assert 429 in statuses and statuses.count(200) == 13


@pytest.mark.parametrize("kind", ["http_500", "http_502", "http_503", "truncated", "slow"])
def test_single_transient_fault_is_retried(rig, kind, caplog):
    r = rig(vehicles=3, **ONE_WALK, faults=FaultConfig(slow_s=0.05, script={ASSIGN: (kind,)}))
    baseline = rig(vehicles=3, **ONE_WALK).samsara.fetch_driver_assignments(DAY_START, DAY_END)
    with caplog.at_level(logging.WARNING, logger="fleet_assets.providers"):
        rows = r.samsara.fetch_driver_assignments(DAY_START, DAY_END)
    assert _canon(rows) == _canon(baseline)
    first = r.requests(ASSIGN)[0]
    assert first.fault == kind and first.attempt == 0
    if kind == "slow":
        assert "retry" not in caplog.text  # slow but within the read timeout: no retry
        assert len(r.requests(ASSIGN)) == len(baseline_requests(baseline))
    else:
        assert "retry 1" in caplog.text
        assert len(r.requests(ASSIGN)) == len(baseline_requests(baseline)) + 1


def baseline_requests(rows) -> list:
    """Pages a clean assignments walk needs (50 rows a page, plus the inserted empty page)."""
    pages = max(1, -(-len(rows) // 50))
    return [None] * (pages + (1 if pages >= 2 else 0))


def test_persistent_truncated_json_gives_clear_error_after_configured_retries(rig):
    r = rig(vehicles=3, **ONE_WALK, faults=FaultConfig(script={ASSIGN: ("truncated",) * 10}), max_retries=2)
    with pytest.raises(ProviderResponseError) as info:
        r.samsara.fetch_driver_assignments(DAY_START, DAY_END)
    msg = str(info.value)
    assert msg.startswith("samsara driver_vehicle_assignments:") and "truncated JSON" in msg and "3 attempt" in msg
    assert len(r.requests(ASSIGN)) == 3  # 1 + max_retries, no more


def test_timeouts_are_retried_and_persistent_ones_reported(rig):
    ok = rig(vehicles=3, faults=FaultConfig(timeout_s=1.0, script={ASSIGN: ("timeout",)}), read_timeout_s=0.1)
    assert ok.samsara.fetch_driver_assignments(DAY_START, DAY_END)
    bad = rig(vehicles=3, faults=FaultConfig(timeout_s=1.0, script={ASSIGN: ("timeout",) * 5}), read_timeout_s=0.1,
              max_retries=1)
    t0 = time.monotonic()
    with pytest.raises(ProviderUnavailableError) as info:
        bad.samsara.fetch_driver_assignments(DAY_START, DAY_END)
    assert time.monotonic() - t0 < 1.0
    assert "gave up after 2 attempt(s)" in str(info.value) and "timed out" in str(info.value)


def test_failed_vehicle_is_surfaced_not_dropped(rig):
    r = rig(vehicles=5, faults=FaultConfig(script={LOC3: ("http_503",) * 9}), max_retries=3)
    result = r.motive.fetch_vehicle_locations(DAY_START, DAY_END)
    assert result.failed_vehicle_ids == ["8000003"]
    assert "HTTP 503" in result.errors["8000003"] and "8000003" not in result.locations
    assert len(result.locations) == 4
    assert len(r.requests(LOC3)) == 4  # 1 + max_retries
    assert "failed_vehicle_ids=['8000003']" in repr(result)


def test_connection_errors_are_retried_then_reported(rig):
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens here now
    from fleet_assets.providers import SamsaraClient

    from .conftest import settings

    client = SamsaraClient(settings("samsara", "test-token", f"http://127.0.0.1:{port}", max_retries=2, connect_timeout_s=1))
    with pytest.raises(ProviderUnavailableError, match="connection error"):
        client.fetch_driver_assignments(DAY_START, DAY_START + timedelta(hours=1))
    assert client.requests_sent == 3
