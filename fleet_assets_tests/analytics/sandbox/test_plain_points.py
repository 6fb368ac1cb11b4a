"""The sandbox's fast coercion of signal points gives graphql-core's values and rejects exactly what it rejects."""

from __future__ import annotations

import json
import math

import pytest
from graphql import ExecutionContext, build_schema, parse

from fleet_assets.analytics.operations import CREATE_CONFIGURATION, CREATE_MESSAGE, UPSERT_SIGNAL_DATA
from fleet_assets.analytics.sandbox import AnalyticsSandbox
from fleet_assets.analytics.sandbox.plain_points import PlainPointsExecutionContext, is_plain_point
from fleet_assets.analytics.sdl import sdl_text

SCHEMA = build_schema(sdl_text())
NULLABLE = UPSERT_SIGNAL_DATA.replace("UpsertSignalDataInput!", "UpsertSignalDataInput")


def _signal(name: str, points: list) -> dict:
    return {"configurationId": 1, "messageId": 1, "name": name, "unit": "rpm", "paramType": "RAW", "data": points}


PLAIN = [{"value": 1.5, "svalue": None, "time": "t1"}, {"time": "t2"}, {"value": None, "time": "t3"},
         {"svalue": "on", "time": "t4"}, {"value": -0.0, "svalue": "x", "time": "t5"}]
NOT_PLAIN = [  # each is a point graphql-core coerces differently or rejects
    {"value": 3, "time": "t"},  # int: coerced to 3.0
    {"value": True, "time": "t"},
    {"value": math.nan, "time": "t"},
    {"value": math.inf, "time": "t"},
    {"value": "1.5", "time": "t"},
    {"svalue": 5, "time": "t"},
    {"value": 1.0},
    {"value": 1.0, "time": None},
    {"value": 1.0, "time": 7},
    {"value": 1.0, "time": "t", "extra": 1},
    None,
    [1.0, "t"],
]


def _both(query: str, variables: dict):
    document = parse(query)
    return (ExecutionContext.build(SCHEMA, document, raw_variable_values=variables),
            PlainPointsExecutionContext.build(SCHEMA, document, raw_variable_values=variables))


def test_plain_points_are_exactly_the_ones_coerced_to_themselves():
    assert all(is_plain_point(p) for p in PLAIN)
    assert not any(is_plain_point(p) for p in NOT_PLAIN)


@pytest.mark.parametrize("query", [UPSERT_SIGNAL_DATA, NULLABLE])
@pytest.mark.parametrize("bad", NOT_PLAIN, ids=repr)
def test_same_coerced_values_and_same_errors_as_graphql_core(query, bad):
    # a plain group next to a group holding one point that is not plain (in the middle of the list)
    variables = {"input": {"signals": [_signal("A", PLAIN), _signal("B", PLAIN[:2] + [bad] + PLAIN[2:])]}}
    reference, ours = _both(query, variables)
    if isinstance(reference, list):  # rejected: the same errors, word for word
        assert isinstance(ours, list) and [e.message for e in ours] == [e.message for e in reference]
        assert "data[2]" in reference[0].message
    else:
        assert not isinstance(ours, list)
        assert ours.variable_values == reference.variable_values
        coerced = ours.variable_values["input"]["signals"][1]["data"][2]
        assert coerced == {"value": 3.0, "time": "t"} and type(coerced["value"]) is float  # not the int sent


@pytest.mark.parametrize("query", [UPSERT_SIGNAL_DATA, NULLABLE])
def test_a_request_of_plain_points_is_coerced_to_its_own_values(query):
    variables = {"input": {"signals": [_signal("A", PLAIN), _signal("B", PLAIN[1:]), _signal("C", [])]}}
    reference, ours = _both(query, variables)
    assert ours.variable_values == reference.variable_values == variables
    bad_header = {"input": {"signals": [{**_signal("A", PLAIN), "configurationId": "x"}]}}
    reference, ours = _both(query, bad_header)
    assert [e.message for e in ours] == [e.message for e in reference] and reference


def test_the_backend_rejects_a_bad_point_among_plain_ones_and_stores_nothing():
    backend = AnalyticsSandbox()

    def post(query, variables):
        return json.loads(backend.handle(json.dumps({"query": query, "variables": variables}).encode(), {}).body)

    post(CREATE_CONFIGURATION, {"input": {"deviceId": 1, "vehicleId": 1, "fleetId": 1, "organizationId": 1}})
    post(CREATE_MESSAGE, {"input": {"messages": [{"name": "RPM"}]}})
    points = [{"value": float(i), "svalue": None, "time": f"t{i}"} for i in range(1000)]
    body = post(UPSERT_SIGNAL_DATA, {"input": {"signals": [_signal("A", points[:500] + [{"value": "fast",
                                                                                         "time": "x"}] + points[500:])]}})
    assert body["data"] is None
    assert "data[500].value" in body["errors"][0]["message"] and "'fast'" in body["errors"][0]["message"]
    assert backend.stored_counts()["signal"] == 0
    body = post(UPSERT_SIGNAL_DATA, {"input": {"signals": [_signal("A", points)]}})
    assert "errors" not in body and backend.stored_counts()["signal"] == 1000


def test_a_body_only_the_standard_json_reader_reads_gets_the_same_answer_as_before():
    """orjson reads the bodies first; a NaN literal (the reference client's json.dumps writes one) still
    reaches GraphQL coercion and is refused there as a bad value, not as a malformed body."""
    backend = AnalyticsSandbox()
    backend.handle(json.dumps({"query": CREATE_CONFIGURATION, "variables": {"input": {
        "deviceId": 1, "vehicleId": 1, "fleetId": 1, "organizationId": 1}}}).encode(), {})
    body = json.dumps({"query": UPSERT_SIGNAL_DATA, "variables": {"input": {"signals": [
        _signal("A", [{"value": 1.0, "time": "a"}, {"value": math.nan, "time": "b"}])]}}}).encode()
    assert b"NaN" in body
    response = backend.handle(body, {})
    assert response.status == 200
    assert "data[1].value" in json.loads(response.body)["errors"][0]["message"]
    assert backend.handle(b'{"query": ', {}).status == 400
