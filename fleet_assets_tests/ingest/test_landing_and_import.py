"""Completion log without gaps under concurrency; directory import through the same rules."""

from __future__ import annotations

import json
import threading

import pytest

from fleet_protocol import sha256_hex

from fleet_assets.ingest import service
from fleet_assets.ingest.cli import main as cli_main
from fleet_assets.ingest.importer import import_dir
from fleet_assets.ingest.landing import LandingZone


def _upload_direct(zone, trip):
    service.create_trip(zone, trip.create_body(), None)
    for no, body in trip.chunks.items():
        service.put_chunk(zone, trip.trip_id, no, body, sha256_hex(body), None)
    return service.complete_trip(zone, trip.trip_id, trip.manifest_json(), None)


def test_concurrent_completions_get_gapless_unique_markers(backend_zone, make_trip):
    zone = backend_zone
    trips = [make_trip(n=10, per_chunk=10) for _ in range(24)]
    errors = []

    def worker(batch):
        try:
            for trip in batch:
                _upload_direct(zone, trip)
                _upload_direct(zone, trip)  # completing twice must not add a marker
        except Exception as exc:  # noqa: BLE001 - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(trips[i::6],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    markers = zone.read_completions(0)
    assert [m.seq for m in markers] == list(range(1, 25))
    assert sorted(m.trip_id for m in markers) == sorted(t.trip_id for t in trips)
    assert [m.seq for m in zone.read_completions(20)] == [21, 22, 23, 24]
    assert zone.read_completions(24) == []


def _export(trip, root):
    folder = root / "trips" / trip.trip_id
    (folder / "chunks").mkdir(parents=True)
    for no, body in trip.chunks.items():
        (folder / "chunks" / f"{no}.ndjson.gz").write_bytes(body)
    (folder / "manifest.json").write_text(json.dumps(trip.manifest_json()))
    return folder


def test_import_dir_is_identical_to_upload_and_idempotent(tmp_path, landing, make_trip, snapshot, capsys):
    good, bad = make_trip(), make_trip()
    _export(good, tmp_path / "usb")
    bad_folder = _export(bad, tmp_path / "usb")
    (bad_folder / "chunks" / "2.ndjson.gz").write_bytes(bad.chunks[2][:-5])  # truncated on the stick

    zone = LandingZone(landing, fsync=False)
    report = import_dir(tmp_path / "usb", zone)
    assert report.imported == [good.trip_id]
    assert "truncated" in report.failed[bad.trip_id]
    assert [m.trip_id for m in zone.read_completions(0)] == [good.trip_id]
    assert not (landing / "trips" / bad.trip_id / "chunks" / "2.json").exists()

    before = snapshot(landing)
    rc = cli_main(["--data-dir", str(landing.parent), "--no-fsync", "import-dir", str(tmp_path / "usb")])
    assert rc == 1  # the bad trip still fails
    assert "already complete " + good.trip_id in capsys.readouterr().out
    assert snapshot(landing) == before


def test_import_dir_rejects_path_trick_folder(tmp_path, landing, make_trip):
    trip = make_trip()
    folder = _export(trip, tmp_path / "usb")
    folder.rename(folder.parent / "..evil")
    report = import_dir(tmp_path / "usb", LandingZone(landing, fsync=False))
    assert "trip_id must be" in report.failed["..evil"]
    assert not landing.exists() or not any(landing.rglob("*"))


def test_import_dir_requires_trips_folder(tmp_path, landing):
    with pytest.raises(FileNotFoundError, match="has no trips/ folder"):
        import_dir(tmp_path, LandingZone(landing))


def test_cli_help_and_add_key(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--help"])
    assert exit_info.value.code == 0 and "import-dir" in capsys.readouterr().out
    keys_file = tmp_path / "keys.json"
    assert cli_main(["--keys-file", str(keys_file), "add-key", "--device", "van-1", "--vin", "1FTFW1E50PFA00001"]) == 0
    key = capsys.readouterr().out.strip()
    from fleet_assets.ingest.keys import KeyRing

    assert KeyRing.load(keys_file).authenticate(f"Bearer {key}").name == "van-1"
    assert key not in keys_file.read_text()


def test_collector_export_imports_identically(tmp_path, landing, make_trip):
    """The edge collector's --to-dir export is exactly what import-dir reads (shared contract: fleet_protocol)."""
    from edge_collector.upload import export_trip
    from fleet_protocol import chunk_filename

    trip = make_trip(n=70, per_chunk=30)
    cut_dir = tmp_path / "cut"
    cut_dir.mkdir()
    for no, body in trip.chunks.items():
        (cut_dir / chunk_filename(trip.trip_id, no)).write_bytes(body)
    export_trip(trip.manifest, cut_dir, tmp_path / "usb")
    report = import_dir(tmp_path / "usb", LandingZone(landing, fsync=False))
    assert report.imported == [trip.trip_id] and report.failed == {}
    for no, body in trip.chunks.items():
        assert (landing / "trips" / trip.trip_id / "chunks" / f"{no}.ndjson.gz").read_bytes() == body


def test_completion_cut_short_before_its_log_entry_is_finished_by_the_retry(landing, make_trip):
    """The log entry (what the sensor acts on) comes after the trip is readable as complete; a completion cut
    short in between is finished, once, by the device's retry."""
    zone = LandingZone(landing, fsync=False)
    trip = make_trip(n=40, per_chunk=20)
    service.create_trip(zone, trip.create_body(), None)
    for no, body in trip.chunks.items():
        service.put_chunk(zone, trip.trip_id, no, body, sha256_hex(body), None)
    (landing / "completed").write_bytes(b"")  # a real failure: the log's folder cannot be created
    with pytest.raises(OSError):
        service.complete_trip(zone, trip.trip_id, trip.manifest_json(), None)
    assert zone.completed_trips_on_day("2025-03-04") == [trip.trip_id]  # a run of the day already reads it whole
    assert zone.read_completions(0) == []
    (landing / "completed").unlink()
    status, result = service.complete_trip(zone, trip.trip_id, trip.manifest_json(), None)
    assert status == 200 and result["marker"] == 1 and result["created"] is True
    again = service.complete_trip(zone, trip.trip_id, trip.manifest_json(), None)[1]
    assert again["marker"] == 1 and again["created"] is False
    assert [m.trip_id for m in zone.read_completions(0)] == [trip.trip_id]


def test_import_dir_lands_on_either_backend(tmp_path, backend_zone, make_trip):
    """The USB import goes through the same store and state as uploads (S3 + Postgres when deployed)."""
    trip = make_trip(n=40, per_chunk=20)
    _export(trip, tmp_path / "usb")
    assert import_dir(tmp_path / "usb", backend_zone).imported == [trip.trip_id]
    assert import_dir(tmp_path / "usb", backend_zone).already_complete == [trip.trip_id]
    assert [m.trip_id for m in backend_zone.read_completions(0)] == [trip.trip_id]
    for no, body in trip.chunks.items():
        assert backend_zone.read_chunk(trip.trip_id, no, sha256_hex(body)) == body
