"""Every request the uploader sends is an IcsAnalytics document that validates against the SDL."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from graphql import FieldNode, VariableNode, get_operation_ast, parse, print_ast, validate
from graphql.execution.values import get_variable_values

from fleet_assets.analytics.ledger import UploadLedger
from fleet_assets.analytics.operations import ALL_OPERATIONS
from fleet_assets.analytics.sandbox import AnalyticsSandbox, AnalyticsSandboxTransport
from fleet_assets.analytics.sdl import analytics_schema, sdl_text
from fleet_assets.analytics.sender import GraphQLSender
from fleet_assets.analytics.upload_settings import UploadSettings
from fleet_assets.analytics.uploader import PartitionUploader

FIELD_OPERATION = {"createConfiguration": "createConfiguration", "createMessage": "createMessage",
                   "upsertSignalData": "UpsertSignalData", "upsertDtcData": "UpsertDtcData",
                   "upsertGpsData": "UpsertGpsData", "__type": "DetectCreateNetworkStatsInputType",
                   "createNetworkStats": "createNetworkStats"}
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
    recording = Recording(AnalyticsSandboxTransport(AnalyticsSandbox()))
    with GraphQLSender("http://sandbox.test/graphql", httpx_transport=recording, validate=False) as sender:
        PartitionUploader(sender, UploadLedger(tmp_path / "l.duckdb", "x"), UploadSettings(**settings)).upload(
            "2025-06-01", day.data)
    return recording


def _reference_fields() -> dict[str, tuple[str, str, str]]:
    """Root field name → (argument text, variable type, selection) of the reference client's documents."""
    out = {}
    for text in ALL_OPERATIONS.values():
        operation = get_operation_ast(parse(text))
        (field,) = operation.selection_set.selections
        out[field.name.value] = (_arguments(operation, field), print_ast(field.selection_set))
    return out


def _arguments(operation, field: FieldNode) -> list[tuple[str, str]]:
    """(name, variable type or literal) of each argument: what the backend's resolver receives."""
    types = {v.variable.name.value: print_ast(v.type) for v in operation.variable_definitions}
    return [(a.name.value, types[a.value.name.value] if isinstance(a.value, VariableNode) else print_ast(a.value))
            for a in field.arguments]


def _sent_fields(body: dict):
    """(root field, its arguments with their variable types, selection, input value) of one request body."""
    operation = get_operation_ast(parse(body["query"]))
    for field in operation.selection_set.selections:
        assert isinstance(field, FieldNode)
        variables = [a.value.name.value for a in field.arguments if isinstance(a.value, VariableNode)]
        value = (body.get("variables") or {}).get(variables[0]) if variables else None
        yield field.name.value, _arguments(operation, field), print_ast(field.selection_set), value


@pytest.mark.parametrize("coalesce", [True, False], ids=["coalesced", "verbatim"])
def test_every_sent_document_validates_and_its_variables_coerce(day, tmp_path, coalesce):
    # validate=False above: the check here is independent of the sender's own pre-flight validation.
    recording = _send_day(day, tmp_path, max_points_per_request=700, coalesce_mutations=coalesce)
    schema = analytics_schema()
    reference = _reference_fields()
    seen = set()
    for body in recording.bodies:
        assert set(body) <= {"query", "variables"}  # like IcsAnalytics: no operationName
        document = parse(body["query"])
        assert validate(schema, document) == []
        operation = get_operation_ast(document)
        coerced = get_variable_values(schema, operation.variable_definitions, body.get("variables") or {})
        assert isinstance(coerced, dict), coerced
        for name, args, selection, _ in _sent_fields(body):
            assert (args, selection) == reference[name]  # the reference field, argument type and selection
            seen.add(name)
    assert seen == set(reference)
    aliased = [b for b in recording.bodies if len(get_operation_ast(parse(b["query"])).selection_set.selections) > 1]
    assert bool(aliased) == coalesce


def test_coalescing_sends_fewer_requests_and_the_same_inputs(day, tmp_path):
    bodies = {c: _send_day(day, tmp_path / c, coalesce_mutations=c == "on").bodies for c in ("on", "off")}
    assert len(bodies["on"]) < len(bodies["off"])

    def inputs(kind_bodies):
        return sorted(json.dumps([name, value], sort_keys=True) for body in kind_bodies
                      for name, _, _, value in _sent_fields(body) if name != "createConfiguration")
    assert inputs(bodies["on"]) == inputs(bodies["off"])  # same objects, same values, other request boundaries


def test_documents_are_the_reference_clients_verbatim(day, tmp_path):
    """The query text on the wire equals the brief's §3 text (as graphql-core prints it)."""
    fenced = re.findall(r"```graphql\n(.*?)```", BRIEF.read_text(), flags=re.S)
    reference = {get_operation_ast(parse(block)).name.value: print_ast(parse(block)) for block in fenced}
    ours = {get_operation_ast(parse(text)).name.value: print_ast(parse(text)) for text in ALL_OPERATIONS.values()}
    assert ours == reference
    sent = {body["query"] for body in _send_day(day, tmp_path, coalesce_mutations=False).bodies}
    assert sent == set(reference.values())


def test_packaged_sdl_is_the_reference_sdl():
    packaged = sdl_text()
    assert packaged.startswith("# Provenance:")
    assert packaged.endswith(REFERENCE_SDL.read_text())


@pytest.mark.parametrize("coalesce", [True, False], ids=["coalesced", "verbatim"])
def test_payload_shapes_match_the_reference_client(day, tmp_path, coalesce):
    bodies = _send_day(day, tmp_path, coalesce_mutations=coalesce).bodies
    by_op = {}
    for body in bodies:  # per root field, the variables it would have had alone: {"input": ...}
        for name, _, _, value in _sent_fields(body):
            by_op.setdefault(name, []).append({"input": value} if value is not None else body.get("variables"))
    by_op = {FIELD_OPERATION[name]: values for name, values in by_op.items()}
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
    recording = Recording(AnalyticsSandboxTransport(AnalyticsSandbox(required_token="s3cr3t-jwt")))
    caplog.set_level("DEBUG")
    with GraphQLSender("http://sandbox.test/graphql", token="s3cr3t-jwt", httpx_transport=recording) as sender:
        PartitionUploader(sender, UploadLedger(tmp_path / "l.duckdb", "x"), UploadSettings()).upload(
            "2025-06-01", day.data)
    assert all(h["authorization"] == "Bearer s3cr3t-jwt" for h in recording.headers)
    assert "s3cr3t-jwt" not in caplog.text
    assert all("s3cr3t-jwt" not in json.dumps(b) for b in recording.bodies)
