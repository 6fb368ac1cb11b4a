"""The state database's connection errors and versioned schema creation, against a real PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from fleet_assets.state.postgres import StateError, connect, ensure_schema, redact

STEPS = ["CREATE TABLE IF NOT EXISTS probe_a (x INTEGER)", "CREATE TABLE IF NOT EXISTS probe_b (y INTEGER)"]


def test_schema_steps_apply_once_and_concurrent_start_ups_agree(state_url):
    errors = []

    def start():
        try:
            with connect(state_url) as conn:
                ensure_schema(conn, "probe", STEPS[:1])
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with connect(state_url) as conn:
        assert ensure_schema(conn, "probe", STEPS) == 2  # the new step only
        assert conn.execute("SELECT version FROM fleet_schema_versions WHERE component='probe'").fetchone() == (2,)
        with pytest.raises(StateError, match="newer than this code's 1"):
            ensure_schema(conn, "probe", STEPS[:1])


def test_unreachable_database_is_one_clear_error_without_the_password(free_port):
    url = f"postgresql://fleet:s3cret@127.0.0.1:{free_port()}/fleet"
    with pytest.raises(StateError) as err:
        connect(url, connect_timeout=2)
    message = str(err.value)
    assert "FLEET_STATE_URL" in message and "s3cret" not in message and "***" in message


def test_not_a_postgres_url_is_refused():
    with pytest.raises(StateError, match="must be a postgresql:// URL"):
        connect("mysql://u:p@h/db")
    assert redact("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact("postgresql://u@h/db?sslmode=require&password=pw") == "postgresql://u@h/db?sslmode=require&password=***"
    assert redact("postgresql://postgres:@/postgres?host=/tmp/x") == "postgresql://postgres:***@/postgres?host=/tmp/x"
