"""Raw fetch storage on a local directory: clear errors, nothing partial (the version switch runs on both
backends in test_backends.py)."""

import pytest

from fleet_assets.storage.raw_store import RawDataMissingError, raw_day_dir, read_raw, write_raw


def test_missing_fetch_has_clear_error(tmp_path):
    with pytest.raises(RawDataMissingError, match="no raw samsara fetch stored for date=2026-01-02"):
        read_raw(tmp_path, "samsara", "2026-01-02")


def test_failed_write_leaves_previous_fetch_and_no_staging(tmp_path):
    write_raw(tmp_path, "samsara", "2026-01-01", {"stats": b"old\n"}, {})
    with pytest.raises(ValueError, match="invalid raw file name"):
        write_raw(tmp_path, "samsara", "2026-01-01", {"stats": b"new\n", "../escape": b"x"}, {})
    assert read_raw(tmp_path, "samsara", "2026-01-01").files == {"stats": b"old\n"}
    day_dir = raw_day_dir(tmp_path, "samsara", "2026-01-01")
    assert not [p for p in day_dir.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("provider, day", [("../x", "2026-01-01"), ("motive", "2026-13-01"), ("motive", "../../etc")])
def test_path_tricks_rejected(tmp_path, provider, day):
    with pytest.raises(ValueError):
        write_raw(tmp_path, provider, day, {"a": b""}, {})
    assert not any(tmp_path.rglob("*.gz"))
