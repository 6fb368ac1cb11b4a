"""The SQLite store of the sandbox: same keys as earlier versions wrote, counts kept by triggers, re-deliveries counted."""

from __future__ import annotations

import json
import sqlite3

from fleet_assets.analytics.sandbox.store import SCHEMA, SqliteStore

TRICKY = ["plain", 'quo"te', "back\\slash", "é", "tab\t", "\x7f", "\x00", "\u2028", "😀", "\x1f", ""]


def _old_key(key: tuple) -> str:
    """How every earlier version encoded a natural key (what existing store files hold)."""
    return json.dumps(list(key), separators=(",", ":"))


def _old_store(path, rows: list[tuple[str, tuple]]) -> None:
    """A store file as an earlier version left it: no counts table, keys in the standard library's JSON."""
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript(SCHEMA)
    con.executemany("INSERT INTO records (kind, natural_key, value) VALUES (?, ?, '[1.0]')",
                    [(kind, _old_key(key)) for kind, key in rows])
    con.close()


def test_a_record_stored_by_an_earlier_version_is_found_again_and_counted(tmp_path):
    path = tmp_path / "sandbox.sqlite"
    keys = [(7, 3, name, "2025-05-07T00:00:00.000Z") for name in TRICKY] + [(2**70, "big"), (1, None, "x")]
    _old_store(path, [("signal", key) for key in keys] + [("gps", (1, "t"))])
    store = SqliteStore(path)
    try:
        assert store.counts() == {"gps": 1, "signal": len(keys), "dtc": 0, "network_stats": 0}  # counted on open
        with store.transaction():
            # every old key is a re-delivery (same text), the new one is stored: upsert by natural key
            assert store.upsert("signal", [(key, (2.0, None, "rpm")) for key in keys]
                                + [((8, 3, "rpm", "t"), (1.0, None, "rpm"))]) == len(keys)
        assert store.counts()["signal"] == len(keys) + 1
        latest = {tuple(r["key"]): r["value"] for r in store.latest("signal", 100)}
        assert latest[(7, 3, "é", "2025-05-07T00:00:00.000Z")] == [2.0, None, "rpm"]  # overwritten, not added
        # another writer of the file (any version: the counts are triggers) keeps /stats right
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("INSERT INTO records (kind, natural_key, value) VALUES ('dtc', '[1]', '[]')")
        other.execute("DELETE FROM records WHERE kind = 'gps'")
        other.close()
        assert store.counts() == {"gps": 0, "signal": len(keys) + 1, "dtc": 1, "network_stats": 0}
        store.reset()
        assert store.counts() == {"gps": 0, "signal": 0, "dtc": 0, "network_stats": 0}
    finally:
        store.close()
    reopened = SqliteStore(path)  # the counts table exists now: not counted again, still right
    try:
        assert reopened.counts()["signal"] == 0
    finally:
        reopened.close()
