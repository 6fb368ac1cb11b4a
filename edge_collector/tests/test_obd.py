"""OBD-II against the third-party ELM327-emulator on a pty, read through python-OBD.

One emulator + one connection is shared by the module (python-OBD's connect
costs ~4 s of fixed sleeps); the unplug test builds its own two emulators.
"""

from __future__ import annotations

import os
import threading
import time

import obd
import pytest

from edge_collector.buffer import EventBuffer
from edge_collector.collector import Collector, CollectorConfig
from edge_collector.emulator import set_pid, start_emulator
from edge_collector.gps import GpsState
from edge_collector.obd_reader import Backoff, ObdSource
from edge_collector.replay import read_log_lines, replay

from .nmea_pty import nmea_log, wait_for

PIDS = ["SPEED", "RPM", "COOLANT_TEMP", "THROTTLE_POS", "FUEL_LEVEL", "ENGINE_LOAD", "FUEL_RATE"]
EMULATOR_VINS = {"WP0ZZZ99ZTS390000", "MAT403096BNL00000", "SB1ZS3JE60E282102"}


@pytest.fixture(scope="module")
def emulator():
    import elm.obd_message as om

    om.DTC_STORED[:] = ["02", "0143", "C123"]  # count byte first: works around the emulator's DTC bug
    emu = start_emulator("car")
    yield emu
    emu.terminate()
    om.DTC_STORED[:] = []


@pytest.fixture(scope="module")
def source(emulator):
    src = ObdSource(emulator.get_pty(), pids=PIDS, read_timeout_s=0.5)
    assert src.connect(), src.last_status
    yield src
    src.close()


@pytest.fixture
def fixed_values(emulator):
    set_pid(emulator, "SPEED", "41 0D", [52])
    raw = int(2600 * 4)
    set_pid(emulator, "RPM", "41 0C", [raw >> 8, raw & 0xFF])
    set_pid(emulator, "COOLANT_TEMP", "41 05", [86 + 40])
    set_pid(emulator, "THROTTLE_POS", "41 11", [82])  # 82/255 = 32.2 %
    yield
    emulator.answer = {}


def test_reads_real_values_through_python_obd(source, fixed_values):
    sample = source.sample()
    assert sample.values["speed_kph"] == 52.0
    assert sample.values["rpm"] == 2600.0
    assert sample.values["coolant_c"] == 86.0
    assert sample.values["throttle_pos"] == pytest.approx(82 / 255)  # fraction, as the wire schema wants
    assert sample.values["fuel_level_pct"] == pytest.approx(66.67, abs=0.01)  # the car scenario's fixed level
    assert sample.extra["engine_load"] >= 0


def test_unsupported_pids_are_skipped_not_fatal(source):
    assert source.skipped_pids == ["FUEL_RATE"]
    assert "fuel_rate" not in source.sample().extra


def test_vin_decoded_from_raw_message_not_truncated(source):
    assert source.vin in EMULATOR_VINS and len(source.vin) == 17
    buggy = source.query(obd.commands.VIN).value  # python-OBD 0.7.3's own decode
    assert len(bytes(buggy)) < 17


def test_stored_dtcs(source):
    assert source.read_dtcs() == [
        ("P0143", "O2 Sensor Circuit Low Voltage", "stored"),
        ("U0123", "Lost Communication With Yaw Rate Sensor Module", "stored"),
    ]


def test_no_data_dtc_answer_is_not_reported(source, emulator):
    emulator.answer["GET_DTC"] = "<writeln>NO DATA</writeln>"
    try:
        assert source.read_dtcs() == []
    finally:
        emulator.answer = {}


def test_read_timeout_shortened(source):
    assert source._conn.interface._ELM327__port.timeout == 0.5


def test_lock_makes_concurrent_queries_safe(source):
    results = []

    def worker():
        for _ in range(60):
            results.append(source.query(obd.commands.RPM).is_null())

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 120 and not any(results) and source.connected


def test_collector_fuses_obd_with_real_gps_log(source, fixed_values, tmp_path):
    with EventBuffer(tmp_path / "b.db") as buf:
        collector = Collector(buf, CollectorConfig(idle_timeout_s=3600), obd=source, gps=GpsState())
        replay(collector, read_log_lines(nmea_log("nl2008u.log")))
        collector.end_current_trip("end of replay")
        [trip] = buf.trips()
        records = list(buf.iter_records(trip["trip_id"]))
    assert trip["vin"] == source.vin
    events = [r for r in records if r["kind"] == "event"]
    dtcs = [r for r in records if r["kind"] == "dtc"]
    assert {d["code"] for d in dtcs} == {"P0143", "U0123"}  # read at trip start, recorded once
    assert len(events) == 9 and all(e["rpm"] == 2600.0 and e["speed_kph"] == 52.0 for e in events)
    assert sum(e["lat"] is not None for e in events) >= 5  # parked part before 09:15 has fixes too


def test_silent_adapter_null_answers_trigger_reconnect(source, emulator):
    """Port still open but every PID answers NO DATA (adapter hung / bus gone): treated as lost."""
    for name in ("SPEED", "RPM", "COOLANT_TEMP", "THROTTLE_POS", "FUEL_LEVEL", "ENGINE_LOAD"):
        emulator.answer[name] = "<writeln>NO DATA</writeln>"
    try:
        results = [source.sample() for _ in range(source.null_limit)]
        assert all(r is not None and r.empty for r in results[:-1]) and results[-1] is None
        assert not source.connected
    finally:
        emulator.answer = {}
    source.backoff = Backoff(initial_s=0.1, max_s=0.5)
    # the emulator sometimes garbles the ATZ/ATE0 exchange of a fresh handshake; the backoff loop retries
    assert wait_for(lambda: source.try_reconnect(wait=True), timeout=40), source.last_status
    assert source.sample().values["rpm"] is not None


def test_silent_adapter_is_dropped_after_one_slow_query_and_reconnect_runs_in_background(source, emulator):
    """Port open, adapter mute (edge.md: python-OBD would block ~121 s per query)."""
    emulator.threadState = emulator.THREAD.PAUSED  # the first query after pausing is still answered
    try:
        began = time.monotonic()
        assert source.sample() is None and not source.connected
        assert time.monotonic() - began < 15
    finally:
        emulator.threadState = emulator.THREAD.ACTIVE
    source.backoff = Backoff(initial_s=0.1, max_s=0.5)
    began = time.monotonic()
    assert source.try_reconnect() is False  # returns at once: the handshake runs on its own thread
    assert time.monotonic() - began < 0.5
    assert wait_for(source.try_reconnect, timeout=40), source.last_status
    assert source.sample().values["rpm"] is not None


def test_adapter_unplugged_mid_trip_reconnects_and_records_gap(tmp_path):
    """Emulator 1 dies (unplug), emulator 2 appears under the same by-id style symlink (replug)."""
    link = tmp_path / "obd-adapter"
    emu1 = start_emulator("car")
    os.symlink(emu1.get_pty(), link)
    # baudrate= skips python-OBD's auto-baud, which fails on symlinked ptys
    src = ObdSource(str(link), baudrate=38400, pids=["SPEED", "RPM"], backoff=Backoff(initial_s=0.2, max_s=1.0))
    assert src.connect()
    stop = threading.Event()
    emu2 = None
    with EventBuffer(tmp_path / "b.db") as buf:
        collector = Collector(buf, CollectorConfig(sample_hz=20, idle_timeout_s=60, flush_interval_s=0.1), obd=src)
        runner = threading.Thread(target=collector.run, args=(stop,))
        runner.start()
        try:
            assert wait_for(lambda: collector.acked >= 10, timeout=10)
            trip_id = collector.trip_id
            emu1.terminate()  # unplug
            assert wait_for(lambda: not src.connected, timeout=10)
            before = collector.acked
            time.sleep(0.3)
            emu2 = start_emulator("car")
            tmp_link = tmp_path / "obd-adapter.new"
            os.symlink(emu2.get_pty(), tmp_link)
            os.replace(tmp_link, link)  # replug: same path, new device
            assert wait_for(lambda: src.connected and collector.acked >= before + 10, timeout=30)
        finally:
            stop.set()
            runner.join(30)
            src.close()
            if emu2:
                emu2.terminate()
        assert collector.trip_id == trip_id  # a short outage does not split the trip
        [gap] = buf.gaps(trip_id)
        assert gap["source"] == "obd" and "disconnected" in gap["reason"] and gap["ended_at"] > gap["started_at"]
        records = list(buf.iter_records(trip_id))
        assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
        stamps = [r["ts"] for r in records]
        assert stamps == sorted(stamps)
        assert any(r["ts"] > gap["ended_at"] for r in records)


def test_vin_and_pids_are_known_before_the_adapter_counts_as_connected():
    """The sampler must never see a connected adapter without a VIN (its samples would be refused)."""
    emu = start_emulator("car")
    src = ObdSource(emu.get_pty(), pids=PIDS, read_timeout_s=0.5)
    seen = []
    connecting = threading.Thread(target=src.connect)
    try:
        connecting.start()
        while connecting.is_alive():  # what a sampler thread would observe, as often as it can
            if src.connected:
                seen.append((src.vin, len(src._supported)))
        connecting.join()
        assert src.connected and src.vin in EMULATOR_VINS
        assert all(vin in EMULATOR_VINS and supported for vin, supported in seen), seen[:3]
    finally:
        src.close()
        emu.terminate()
