"""The fast raw parse (DuckDB's reader) gives exactly Arrow's table, and Arrow's errors (issue 14).

Inputs are the sandbox's own wire records for a day, with its fault-injected duplicate records left
in (served by ``SandboxBackend`` in process, not passed through the clients, which drop duplicates).
"""

import json

import pyarrow as pa
import pytest

from fleet_assets.sandbox import FaultConfig, SandboxBackend, SandboxConfig
from fleet_assets.transforms import MalformedRecordsError, dedup_telemetry, normalize_motive, normalize_samsara
from fleet_assets.transforms import wire
from fleet_assets.transforms.wire import (
    MOTIVE_LOCATION_SCHEMA,
    MOTIVE_VEHICLE_SCHEMA,
    SAMSARA_ASSIGNMENT_SCHEMA,
    SAMSARA_STATS_SCHEMA,
    arrow_ndjson_table,
    duckdb_ndjson_table,
    motive_location_records,
    ndjson_to_table,
    records_to_ndjson,
)

DAY = "2026-03-02"
WINDOW = {"startTime": "2026-03-01T00:00:00Z", "endTime": "2026-03-03T00:00:00Z"}


def _get(backend: SandboxBackend, path: str, query: dict) -> dict:
    c = backend.config
    headers = {"X-API-Key": c.motive_api_key} if path.startswith("/v") else {"Authorization": f"Bearer {c.samsara_api_token}"}
    response = backend.handle("GET", path, query, headers)
    assert response.status == 200, response.body
    return json.loads(response.body)


def _samsara_walk(backend: SandboxBackend, path: str, query: dict) -> list[dict]:
    records, cursor = [], ""
    while True:
        page = _get(backend, path, {**query, **({"after": cursor} if cursor else {})})
        records += page["data"]
        if not page["pagination"]["hasNextPage"]:
            return records
        cursor = page["pagination"]["endCursor"]


@pytest.fixture(scope="module")
def sandbox_day() -> dict[str, bytes]:
    """One sandbox day of raw NDJSON with ~5% duplicated records (Motive locations and Samsara stats > 1 MB)."""
    backend = SandboxBackend(SandboxConfig(motive_vehicles=5, samsara_vehicles=5, interval_s=30,
                                           faults=FaultConfig(duplicate_rate=0.05)))
    vehicles = [item["vehicle"] for item in _get(backend, "/v1/vehicles", {"per_page": 100})["vehicles"]]
    locations = {str(v["id"]): _get(backend, f"/v3/vehicle_locations/{v['id']}", {"start_date": DAY, "end_date": DAY})["vehicle_locations"]
                 for v in vehicles}
    stats = _samsara_walk(backend, "/fleet/vehicles/stats/history", {**WINDOW, "types": "engineStates,gps,obdOdometerMeters"})
    assignments = _samsara_walk(backend, "/fleet/driver-vehicle-assignments", {**WINDOW, "filterBy": "vehicles"})
    ids = [item["vehicle_location"]["id"] for items in locations.values() for item in items]
    assert len(ids) - len(set(ids)) > 100  # the fault-injected duplicates are in the input
    files = {"vehicles": records_to_ndjson(vehicles), "locations": records_to_ndjson(motive_location_records(locations)),
             "stats": records_to_ndjson(stats), "assignments": records_to_ndjson(assignments)}
    assert min(len(files["locations"]), len(files["stats"])) >= wire.FAST_MIN_BYTES
    print({k: len(v) for k, v in files.items()})
    return files


@pytest.mark.parametrize("name, schema", [("locations", MOTIVE_LOCATION_SCHEMA), ("stats", SAMSARA_STATS_SCHEMA),
                                          ("vehicles", MOTIVE_VEHICLE_SCHEMA), ("assignments", SAMSARA_ASSIGNMENT_SCHEMA)])
def test_fast_parse_equals_arrow_on_sandbox_data_with_duplicates(sandbox_day, name, schema):
    data = sandbox_day[name]
    fast = duckdb_ndjson_table(data, schema)
    assert fast is not None, "the fast reader refused valid sandbox data"
    reference = arrow_ndjson_table(data, schema, name)
    assert fast.schema.equals(schema) and reference.num_rows > 0
    assert fast.equals(reference)  # same values, nulls, list offsets and row order (dedup keeps the later row)
    if len(data) >= wire.FAST_MIN_BYTES:
        assert ndjson_to_table(data, schema, name).equals(reference)


def test_fast_parse_gives_the_same_normalized_and_deduplicated_day(sandbox_day, monkeypatch):
    def day(min_bytes: int) -> pa.Table:
        monkeypatch.setattr(wire, "FAST_MIN_BYTES", min_bytes)
        motive = normalize_motive(sandbox_day["vehicles"], sandbox_day["locations"], DAY)
        samsara = normalize_samsara(sandbox_day["stats"], sandbox_day["assignments"], DAY)
        return dedup_telemetry(pa.concat_tables([motive, samsara])).table

    fast, reference = day(0), day(1 << 62)
    assert fast.num_rows > 5_000 and fast.equals(reference)


def _big(line: bytes) -> bytes:
    """Valid Motive location lines past FAST_MIN_BYTES, so the fast reader is the one tried first."""
    assert line.endswith(b"\n")
    return line * (wire.FAST_MIN_BYTES // len(line) + 1)


_LINE = (b'{"vehicle_id":"1","vehicle_location":{"located_at":"2026-03-02T01:00:00Z","lat":41.5,"lon":-87.25,'
         b'"type":"breadcrumb","driver":{"id":7,"first_name":"Ann","last_name":"Lee"}}}\n')


@pytest.mark.parametrize("bad", [
    b'{"vehicle_id":"1","vehicle_location":{"located_at":"2026-03-02T01:0',  # truncated (a cut-off write)
    b'{"vehicle_id":"1","vehicle_location":{"lat":"north"}}\n',  # a value that is no number
    b'{"vehicle_id":"1","vehicle_location":5}\n',  # not an object
    b'{"vehicle_id":"1","vehicle_location":{"driver":{"id":1.5}}}\n',  # not an integer (DuckDB's BIGINT would round it)
    b'[1, 2]\n',  # not an object per line
    b'7\n',  # a scalar line (DuckDB would skip it: the row check sends it to Arrow)
])
def test_bad_json_gives_arrows_error_from_the_fast_path(bad):
    data = _big(_LINE) + bad
    with pytest.raises(MalformedRecordsError) as reference:
        arrow_ndjson_table(data, MOTIVE_LOCATION_SCHEMA, "motive vehicle_location")
    with pytest.raises(MalformedRecordsError) as fast:
        ndjson_to_table(data, MOTIVE_LOCATION_SCHEMA, "motive vehicle_location")
    assert str(fast.value) == str(reference.value)
    assert str(fast.value).startswith("malformed motive vehicle_location records: ")


@pytest.mark.parametrize("data, line", [
    (b"null\n" + _LINE, 1),  # pyarrow 26's reader crashed the process (SIGSEGV) on this
    (b"\n  null\n" + _LINE, 2),
    (_LINE + b"null\n" + _LINE, 2),
    (_big(_LINE) + b"null\n", wire.FAST_MIN_BYTES // len(_LINE) + 2),  # large: the fast reader's row of nulls is refused too
])
def test_a_null_line_is_a_clear_error_not_a_crash(data, line):
    with pytest.raises(MalformedRecordsError, match=f"malformed motive vehicle_location records: line {line} is null"):
        ndjson_to_table(data, MOTIVE_LOCATION_SCHEMA, "motive vehicle_location")


def test_blank_lines_and_a_missing_final_newline_keep_every_row():
    data = _big(_LINE)
    for variant in (data[:-1], b"\n" + data + b"\n\n", data.replace(b"\n", b"\r\n")):
        assert ndjson_to_table(variant, MOTIVE_LOCATION_SCHEMA, "x").equals(arrow_ndjson_table(data, MOTIVE_LOCATION_SCHEMA, "x"))
