import gzip
import json
import subprocess
import shutil

import pytest

from fleet_protocol import ChunkError, EdgeEvent, decode_chunk, encode_chunk, parse_record, sha256_hex
from fleet_protocol.chunks import gunzip_limited

VIN = "WAUZZZFY0R1234567"


def test_round_trip_is_deterministic_and_lossless(records, trip_id):
    body = encode_chunk(records)
    assert encode_chunk(records) == body, "same records must give byte-identical chunks"
    assert decode_chunk(body, trip_id=trip_id, vin=VIN) == records
    lines = gzip.decompress(body).decode().splitlines()
    assert json.loads(lines[0])["ts"] == "2025-11-04T12:00:01Z"


def test_seed_004_line_without_kind_is_an_event(trip_id):
    line = json.dumps({"schema_version": 1, "vin": VIN, "trip_id": trip_id, "seq": 154, "ts": "2025-11-04T12:00:00Z",
                       "lat": 49.5891, "lon": 8.6527, "speed_kph": 82.4, "rpm": 2350, "coolant_c": 86.0,
                       "throttle_pos": 0.32, "soc_pct": 87.5, "fuel_level_pct": 62.0})
    record = parse_record(line)
    assert isinstance(record, EdgeEvent) and record.seq == 154 and record.speed_kph == 82.4


def test_plain_gzip_tool_accepts_chunks(tmp_path, records):
    assert shutil.which("gzip") and shutil.which("sha256sum"), "this test checks chunks with the real gzip/sha256sum"
    path = tmp_path / "c.ndjson.gz"
    path.write_bytes(encode_chunk(records))
    subprocess.run(["gzip", "-t", str(path)], check=True)
    out = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout
    assert out.split()[0] == sha256_hex(path.read_bytes())


def test_gzip_bomb_is_rejected_without_inflating_it():
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    with pytest.raises(ChunkError, match="more than 1048576 bytes .*gzip bomb"):
        gunzip_limited(bomb, max_decompressed_bytes=1024 * 1024)


def test_truncated_gzip(records):
    body = encode_chunk(records)
    with pytest.raises(ChunkError, match="truncated|not valid gzip"):
        decode_chunk(body[: len(body) // 2])


def test_not_gzip_and_empty():
    with pytest.raises(ChunkError, match="not valid gzip"):
        decode_chunk(b'{"seq": 1}\n')
    with pytest.raises(ChunkError, match="empty"):
        decode_chunk(b"")
    with pytest.raises(ChunkError, match="no records"):
        decode_chunk(gzip.compress(b"\n\n"))


def test_invalid_line_names_line_and_field(records, trip_id):
    lines = [r.to_json_dict() for r in records]
    lines[2]["lat"] = 123.0
    with pytest.raises(ChunkError, match=r"line 3: invalid event: lat: .*less than or equal to 90"):
        decode_chunk(encode_chunk(lines))
    garbage = gzip.compress(b'{"seq": 1, "vin": "x"}\nnot json\n')
    with pytest.raises(ChunkError, match="line 1: invalid event"):
        decode_chunk(garbage)


def test_foreign_trip_or_vin_and_seq_order_rejected(records, trip_id):
    body = encode_chunk(records)
    with pytest.raises(ChunkError, match="does not match"):
        decode_chunk(body, trip_id="00000000-0000-0000-0000-000000009999")
    with pytest.raises(ChunkError, match="vin WAUZZZFY0R1234567 does not match"):
        decode_chunk(body, vin="1HGCM82633A004352")
    with pytest.raises(ChunkError, match="strictly increasing seq"):
        decode_chunk(encode_chunk(list(reversed(records))))


def test_naive_timestamp_rejected(trip_id):
    line = {"vin": VIN, "trip_id": trip_id, "seq": 1, "ts": "2025-11-04T12:00:00"}
    with pytest.raises(ChunkError, match="ts.*timezone"):
        decode_chunk(encode_chunk([line]))
