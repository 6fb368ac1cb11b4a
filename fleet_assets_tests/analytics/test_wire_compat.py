"""Every request the uploader sends is an IcsAnalytics document that validates against the SDL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
from graphql import get_operation_ast, parse, print_ast, validate
from graphql.execution.values import get_variable_values

from fleet_assets.analytics.ledger import UploadLedger
from fleet_assets.analytics.operations import ALL_OPERATIONS
from fleet_assets.analytics.sandbox_server import AnalyticsSandbox, SandboxTransport
from fleet_assets.analytics.sdl import analytics_schema, sdl_text
from fleet_assets.analytics.sender import GraphQLSender
from fleet_assets.analytics.uploader import PartitionUploader, UploadSettings

BRIEF = Path("/work/shared/reference/analytics.md")
REFERENCE_SDL = Path("/work/shared/reference/analytics_schema.graphql")


class Recording(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport):
        self.inner, self.bodies, self.headers = inner, [], []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(json.loads(request.read()))
        self.headers.append(dict(request.headers))
        return self.inner.handle_request(request)


def _send_day(day, tmp_path, **settings) -> Recording:
    recording = Recording(SandboxTransport(AnalyticsSandbox()))
    with GraphQLSender("http://sandbox.test/graphql", httpx_transport=recording, validate=False) as sender:
        PartitionUploader(sender, UploadLedger(tmp_path / "l.duckdb", "x"), UploadSettings(**settings)).upload(
            "2025-06-01", day.data)
    return recording


def test_every_sent_document_validates_and_its_variables_coerce(day, tmp_path):
    # validate=False above: the check here is independent of the sender's own pre-flight validation.
    recording = _send_day(day, tmp_path, max_points_per_request=700)
    schema = analytics_schema()
    seen = set()
    for body in recording.bodies:
        assert set(body) <= {"query", "variables"}  # like IcsAnalytics: no operationName
        document = parse(body["query"])
        assert validate(schema, document) == []
        operation = get_operation_ast(document)
        coerced = get_variable_values(schema, operation.variable_definitions, body.get("variables") or {})
        assert isinstance(coerced, dict), coerced
        seen.add(operation.name.value)
    assert seen == {"createConfiguration", "createMessage", "UpsertGpsData", "UpsertSignalData", "UpsertDtcData",
                    "DetectCreateNetworkStatsInputType", "createNetworkStats"}


def test_documents_are_the_reference_clients_verbatim(day, tmp_path):
    """The query text on the wire equals the brief's §3 text (as graphql-core prints it)."""
    fenced = re.findall(r"```graphql\n(.*?)```", BRIEF.read_text(), flags=re.S)
    reference = {get_operation_ast(parse(block)).name.value: print_ast(parse(block)) for block in fenced}
    ours = {get_operation_ast(parse(text)).name.value: print_ast(parse(text)) for text in ALL_OPERATIONS.values()}
    assert ours == reference
    sent = {body["query"] for body in _send_day(day, tmp_path).bodies}
    assert sent == set(reference.values())


def test_packaged_sdl_is_the_reference_sdl():
    packaged = sdl_text()
    assert packaged.startswith("# Provenance:")
    assert packaged.endswith(REFERENCE_SDL.read_text())


def test_payload_shapes_match_the_reference_client(day, tmp_path):
    bodies = _send_day(day, tmp_path).bodies
    by_op = {}
    for body in bodies:
        by_op.setdefault(get_operation_ast(parse(body["query"])).name.value, []).append(body.get("variables"))
    signal = by_op["UpsertSignalData"][0]["input"]["signals"][0]
    assert set(signal) == {"configurationId", "messageId", "name", "unit", "paramType", "paramId", "signalType", "data"}
    assert signal["signalType"] == "PID" and signal["paramType"] == "RAW"
    assert set(signal["data"][0]) == {"value", "svalue", "time"}
    units = {s["name"]: s["unit"] for v in by_op["UpsertSignalData"] for s in v["input"]["signals"]}
    assert units == {"VehicleSpeed": "km/h", "EngineRPM": "rpm", "EngineCoolantTemperature": "°C",
                     "ThrottlePosition": "%", "FuelTankLevelInput": "%", "HybridBatteryRemainingLife": "%"}
    dtc = by_op["UpsertDtcData"][0]["input"]
    assert isinstance(dtc, list) and set(dtc[0]) == {"configurationId", "messageId", "fileId", "messageDate", "data"}
    gps = by_op["UpsertGpsData"][0]["input"]
    assert set(gps) == {"configurationId", "data"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", gps["data"][0]["time"])
    stats = by_op["createNetworkStats"][0]["input"]
    assert "configurationId" in stats and "vehicleId" not in stats and stats["uploadId"] == 20250601
    assert by_op["DetectCreateNetworkStatsInputType"] == [None]
    messages = by_op["createMessage"]
    assert len(messages) == 1 and len(messages[0]["input"]["messages"]) == 7  # 6 PIDs + DTC in ONE request


def test_token_is_sent_as_bearer_and_only_in_the_header(day, tmp_path, caplog):
    recording = Recording(SandboxTransport(AnalyticsSandbox(required_token="s3cr3t-jwt")))
    caplog.set_level("DEBUG")
    with GraphQLSender("http://sandbox.test/graphql", token="s3cr3t-jwt", httpx_transport=recording) as sender:
        PartitionUploader(sender, UploadLedger(tmp_path / "l.duckdb", "x"), UploadSettings()).upload(
            "2025-06-01", day.data)
    assert all(h["authorization"] == "Bearer s3cr3t-jwt" for h in recording.headers)
    assert "s3cr3t-jwt" not in caplog.text
    assert all("s3cr3t-jwt" not in json.dumps(b) for b in recording.bodies)
