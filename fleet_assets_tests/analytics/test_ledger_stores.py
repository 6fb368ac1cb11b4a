"""Issue 10: the upload ledger's contract on both stores (DuckDB file, real PostgreSQL), and a state
database that cannot be used: one clear line naming FLEET_STATE_URL, nothing sent, nothing written."""

from __future__ import annotations

import subprocess
import sys
import time
from urllib.parse import urlsplit

import dagster as dg
import duckdb
import numpy as np
import psycopg
import pytest

from fleet_assets.analytics import ledger as ledger_module
from fleet_assets.analytics.assets import analytics_upload
from fleet_assets.analytics.batching import Batch, Item
from fleet_assets.analytics.identity import VehicleIds
from fleet_assets.analytics.ledger import UploadLedger
from fleet_assets.analytics.ledger_postgres import COMPONENT, SCHEMA_STEPS, url_label
from fleet_assets.analytics.resources import AnalyticsResource
from fleet_assets.state.postgres import StateError

from .conftest import BOTH_LEDGERS, DAY, make_day

BIGINT_OVERFLOW = 2**63  # no BIGINT column takes it: a statement that fails inside the transaction


def _batch(fingerprints: range, kind: str = "gps") -> Batch:
    return Batch(DAY, kind, [Item((1,), {"h": 1}, {"p": fp}, fp) for fp in fingerprints])


@BOTH_LEDGERS
def test_a_batch_whose_commit_fails_records_nothing_then_commits_whole(ledger_store):
    ledger = ledger_store("http://backend/graphql")
    batch = _batch(range(5000))
    poisoned = Item((1,), {}, {}, BIGINT_OVERFLOW)
    with pytest.raises((duckdb.Error, psycopg.Error)):
        ledger.record_batch(batch, batch.items[:4000], [(poisoned, "rejected")])  # dead letters after the acks
    assert ledger.position(DAY).acked_records == 0  # the acks of the failed transaction are gone too
    assert ledger.completed_batch_ids(DAY) == set() and ledger.resolved_fingerprints(DAY, "gps") == set()

    ledger.record_batch(batch, batch.items[:4999], [(batch.items[4999], "rejected")])
    assert ledger.completed_batch_ids(DAY) == {batch.batch_id}
    assert ledger.resolved_fingerprints(DAY, "gps") == set(range(5000))
    # one shard's question: which of ITS fingerprints are resolved (acked 4998, dead-lettered 4999; not 7000)
    assert ledger.resolved_among(DAY, "gps", np.array([7000, 4999, 3, 4998, 3])).tolist() == [3, 4998, 4999]
    assert ledger.resolved_among(DAY, "signal", np.array([3])).tolist() == []
    assert ledger.resolved_kinds(DAY) == {"gps"} and ledger.resolved_kinds("2025-06-02") == set()
    assert ledger.position(DAY) == type(ledger.position(DAY))(1, 4999, 1)
    assert [r["fingerprint"] for r in ledger.dead_letter_rows(DAY)] == [4999]
    assert ledger.requeue_dead_letters(DAY) == 1 and ledger.position(DAY).dead_lettered == 0


@BOTH_LEDGERS
def test_ids_and_acks_belong_to_one_backend_identity(ledger_store):
    a, b = ledger_store("backend-a"), ledger_store("backend-b")
    for ledger, config in ((a, 11), (b, 22)):
        ledger.save_configurations({VehicleIds(1, 2, 3, 4): config})
        ledger.save_messages({"speed": config})
        ledger.record_batch(_batch(range(10)), _batch(range(10)).items, [])
    a.save_configurations({VehicleIds(1, 2, 3, 4): 12})  # an id re-issued: replaced, not duplicated
    assert a.configuration_ids() == {VehicleIds(1, 2, 3, 4): 12} and b.configuration_ids()[VehicleIds(1, 2, 3, 4)] == 22

    a.forget_ids()
    assert a.configuration_ids() == {} and a.message_ids() == {} and b.message_ids() == {"speed": 22}
    removed = b.forget_backend()
    assert removed == {"upload_records": 10, "upload_batches": 1, "dead_letters": 0, "configurations": 1,
                       "messages": 1}
    assert b.position(DAY).acked_records == 0 and a.position(DAY).acked_records == 10


@pytest.mark.parametrize("ledger_store", ["postgres"], indirect=True)
def test_postgres_schema_is_versioned_and_created_once(ledger_store):
    first, second = ledger_store("x"), ledger_store("y")
    first.ensure()
    second.ensure()  # a second worker starting against the same database: nothing to do
    with psycopg.connect(ledger_store.state_url) as conn:
        assert conn.execute("SELECT version FROM fleet_schema_versions WHERE component = %s",
                            (COMPONENT,)).fetchone() == (len(SCHEMA_STEPS),)
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert {"upload_records", "upload_batches", "dead_letters", "configurations", "messages"} <= tables


@pytest.mark.parametrize("ledger_store", ["postgres"], indirect=True)
def test_a_lost_connection_is_a_clear_error_and_the_next_operation_reconnects(ledger_store):
    ledger = ledger_store("x")
    ledger.record_batch(_batch(range(100)), _batch(range(100)).items, [])
    with psycopg.connect(ledger_store.state_url, autocommit=True) as admin:  # e.g. a database failover
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    with pytest.raises(StateError, match=r"analytics ledger: PostgreSQL at FLEET_STATE_URL=postgresql://\S+ failed"):
        ledger.position(DAY)
    assert ledger.position(DAY).acked_records == 100  # the committed batch is still there


def test_the_ledger_label_never_shows_a_password():
    assert url_label("postgresql://fleet:s3cret@db.example:5432/fleet") == \
        "postgresql://fleet:***@db.example:5432/fleet"
    label = url_label("postgresql://fleet@/fleet?host=/run/pg&password=s3cret")
    assert "s3cret" not in label and "host=/run/pg" in label and "password=***" in label


# ------------------------------------------------------------------ a state database that cannot be used
@pytest.fixture
def password_role(postgres_server) -> str:
    """A role that must give its password (scram over the socket); returns the role's URL with a WRONG one."""
    role = "fleet_ledger_pw_probe"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        hba = conn.execute("SHOW hba_file").fetchone()[0]
        conn.execute(f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
                     f"CREATE ROLE {role} LOGIN PASSWORD 'right-secret'; END IF; END $$")
        rule = f"local all {role} scram-sha-256\n"
        with open(hba) as f:
            rules = f.read()
        if rule not in rules:  # only this role; every other connection stays as the server had it
            with open(hba, "w") as f:
                f.write(rule + rules)
            conn.execute("SELECT pg_reload_conf()")
    parts = urlsplit(postgres_server)
    wrong = parts._replace(netloc=f"{role}:wrong-secret@").geturl()
    deadline = time.monotonic() + 10
    while True:  # the reload is asynchronous: wait until the server really asks for the password
        try:
            psycopg.connect(wrong, connect_timeout=2).close()
        except psycopg.OperationalError:
            break
        assert time.monotonic() < deadline, "the server never started checking the probe role's password"
        time.sleep(0.1)
    psycopg.connect(wrong.replace("wrong-secret", "right-secret"), connect_timeout=2).close()  # the right one works
    return wrong


@pytest.fixture(params=["unreachable", "not-postgres", "wrong-password"])
def bad_state_url(request, free_port) -> tuple[str, str, str]:
    """(FLEET_STATE_URL, its secret, what the error must say)."""
    if request.param == "unreachable":
        return f"postgresql://fleet:s3cret@127.0.0.1:{free_port()}/fleet", "s3cret", "cannot connect to PostgreSQL"
    if request.param == "not-postgres":
        return "mysql://fleet:s3cret@db.example/fleet", "s3cret", "must be a postgresql:// URL"
    return request.getfixturevalue("password_role"), "wrong-secret", "password authentication failed"


def _files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_cli_with_an_unusable_state_database_is_one_line_and_sends_and_writes_nothing(
        storage, write_day, loopback, monkeypatch, bad_state_url):
    url, secret, reason = bad_state_url
    write_day(make_day(points=20, events=10, dtcs=2))
    backend, endpoint = loopback()
    before = _files(storage.root)
    monkeypatch.setenv("FLEET_STATE_URL", url)
    runs = [["--endpoint", endpoint]]
    if reason.startswith("cannot connect"):  # once also on the embedded sandbox, whose store must not appear
        runs.append([])
    for argv in runs:
        proc = subprocess.run([sys.executable, "-m", "fleet_assets.analytics.cli", "--date", DAY, "--data-dir",
                               str(storage.root), "-q", *argv], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.startswith("error: ") and "FLEET_STATE_URL" in proc.stderr and reason in proc.stderr
        assert secret not in proc.stderr
    assert sum(backend.requests.values()) == 0  # nothing sent
    assert _files(storage.root) == before  # no ledger file, no sandbox store, nothing


def test_asset_with_an_unreachable_state_database_fails_with_the_same_message(storage, write_day, loopback,
                                                                            monkeypatch, free_port):
    write_day(make_day(points=20, events=10, dtcs=2))
    backend, endpoint = loopback()
    before = _files(storage.root)
    monkeypatch.setenv("FLEET_STATE_URL", f"postgresql://fleet:s3cret@127.0.0.1:{free_port()}/fleet")
    with dg.instance_for_test() as instance:
        result = dg.materialize([analytics_upload], partition_key=DAY, instance=instance, raise_on_error=False,
                                resources={"storage": storage, "analytics": AnalyticsResource(endpoint=endpoint)})
    assert not result.success
    (failure,) = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert "cannot connect to PostgreSQL at FLEET_STATE_URL=postgresql://fleet:***@127.0.0.1" in error.message
    assert "s3cret" not in str(error.to_string())
    assert sum(backend.requests.values()) == 0 and _files(storage.root) == before


def test_embedded_position_of_a_day_past_the_memory_limit_is_counted_in_parts(tmp_path, monkeypatch):
    """One DISTINCT over a 20M-event day's ~10^8 acks ran out of DuckDB's memory limit at the end of the upload
    (after every record was delivered); the same failure, scaled down: 8 MB and 600k acks. Failed before the fix."""
    monkeypatch.setattr(ledger_module, "MEMORY_LIMIT", "8MB")
    monkeypatch.setattr(UploadLedger, "position_part_rows", 100_000)
    ledger = UploadLedger(tmp_path / "ledger.duckdb", "http://backend/graphql")
    ledger.ensure()
    with ledger._connect() as con:  # 300k signal acks, the same 300k fingerprints as gps, one re-recorded ack
        con.execute("INSERT INTO upload_records SELECT $1, $2, kind, (hash(i)::HUGEINT - 9223372036854775808)::BIGINT, 'b', now() "
                    "FROM range(300000) t(i), (VALUES ('signal'), ('gps')) k(kind)", [ledger.endpoint, DAY])
        con.execute("INSERT INTO upload_records SELECT endpoint, partition_key, kind, fingerprint, 'b2', acked_at "
                    "FROM upload_records LIMIT 1")
    assert ledger.position(DAY).acked_records == 600_000
    ledger.close()
