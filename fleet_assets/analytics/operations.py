"""The seven documents IcsAnalytics 26.3.3 sends, byte-for-byte on the wire, and their coalesced form.

Text copied from the research brief (analytics.md §3); gql re-prints parsed
documents with ``print_ast`` exactly as the reference client does, so an
existing backend sees identical queries. Every operation takes one ``$input``.

Coalesced form: the mutations IcsAnalytics sends one object per request
(``createConfiguration``, ``createNetworkStats``, and ``upsertGpsData``, which
holds one configuration) can be sent N at a time as N aliased copies of the
reference field, ``iK: upsertGpsData(input: $inputK) { same selection }``,
each with its own variable of the reference input type. That is plain
GraphQL (the spec executes a mutation's root fields one after another, and
each field's result and errors are reported under its alias), so the backend
runs the same resolver with the same input; only the request count changes.
A backend that accepts nothing but the exact reference documents (a
persisted-query allow-list) is served with ``coalesce=False``.
"""

from __future__ import annotations

from functools import lru_cache

from gql import GraphQLRequest, gql
from graphql import FieldNode, OperationDefinitionNode, parse, print_ast

CREATE_CONFIGURATION = """
mutation createConfiguration($input: CreateConfigurationInput!) {
  createConfiguration(input: $input) {
    id
    deviceId
    vehicleId
    organizationId
    fleetId
  }
}
"""

CREATE_MESSAGE = """
mutation createMessage($input: CreateMessageInput!) {
  createMessage(input: $input) {
    id
    arbId
    name
    networkName
    ecuId
    ecuName
    fileId
  }
}
"""

UPSERT_SIGNAL_DATA = """
mutation UpsertSignalData($input: UpsertSignalDataInput!) {
  upsertSignalData(input: $input) {
    configurationId
    messageId
    messageName
    name
    paramType
    unit
  }
}
"""

UPSERT_DTC_DATA = """
mutation UpsertDtcData($input: [UpsertDtcDataInput]!) {
  upsertDtcData(input: $input) {
    configurationId
    messageId
  }
}
"""

UPSERT_GPS_DATA = """
mutation UpsertGpsData($input: UpsertGpsDataInput!) {
  upsertGpsData(input: $input) {
    deviceId
    fleetId
    vehicleId
    id
    organizationId
  }
}
"""

DETECT_NETWORK_STATS_INPUT = """
query DetectCreateNetworkStatsInputType {
  __type(name: "CreateNetworkStatsInput") {
    inputFields {
      name
    }
  }
}
"""

CREATE_NETWORK_STATS = """
mutation createNetworkStats($input: CreateNetworkStatsInput!) {
  createNetworkStats(input: $input) {
    name
    uploadId
    totalMessages
    matchedMessages
    unmatchedMessages
    errorMessages
    longMessageParts
    minTime
    maxTime
    rate
  }
}
"""

ALL_OPERATIONS = {
    "createConfiguration": CREATE_CONFIGURATION,
    "createMessage": CREATE_MESSAGE,
    "upsertSignalData": UPSERT_SIGNAL_DATA,
    "upsertDtcData": UPSERT_DTC_DATA,
    "upsertGpsData": UPSERT_GPS_DATA,
    "introspection": DETECT_NETWORK_STATS_INPUT,
    "createNetworkStats": CREATE_NETWORK_STATS,
}

# Parsed once; a GraphQLRequest is immutable and re-used with fresh variables.
REQUESTS = {name: gql(text) for name, text in ALL_OPERATIONS.items()}

# Which mutation carries each upload kind; the kinds in upload order.
KIND_OPERATION = {"gps": "upsertGpsData", "signal": "upsertSignalData", "dtc": "upsertDtcData",
                  "network_stats": "createNetworkStats"}
KINDS = tuple(KIND_OPERATION)

# Mutations whose input is one object: the ones worth coalescing.
COALESCIBLE = ("createConfiguration", "upsertGpsData", "createNetworkStats")
MAX_FIELDS_PER_DOCUMENT = 200  # bounds document size and the backend's per-request work


def alias(index: int) -> str:
    return f"i{index}"


def input_variable(index: int) -> str:
    return f"input{index}"


@lru_cache(maxsize=None)
def coalesced_request(operation: str, count: int) -> GraphQLRequest:
    """``count`` aliased copies of ``operation``'s reference field in one mutation document."""
    if operation not in COALESCIBLE:
        raise ValueError(f"{operation} is not coalesced; expected one of {COALESCIBLE}")
    if not 1 <= count <= MAX_FIELDS_PER_DOCUMENT:
        raise ValueError(f"a coalesced document holds 1..{MAX_FIELDS_PER_DOCUMENT} fields, not {count}")
    op = parse(ALL_OPERATIONS[operation]).definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    (variable,) = op.variable_definitions
    (field,) = op.selection_set.selections
    assert isinstance(field, FieldNode)
    declarations = ", ".join(f"${input_variable(i)}: {print_ast(variable.type)}" for i in range(count))
    selection = print_ast(field.selection_set)
    fields = "\n".join(f"{alias(i)}: {field.name.value}(input: ${input_variable(i)}) {selection}" for i in range(count))
    return gql(f"mutation {op.name.value}Coalesced({declarations}) {{\n{fields}\n}}")
