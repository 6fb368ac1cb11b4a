"""The seven documents IcsAnalytics 26.3.3 sends, byte-for-byte on the wire.

Text copied from the research brief (analytics.md §3); gql re-prints parsed
documents with ``print_ast`` exactly as the reference client does, so an
existing backend sees identical queries. Every operation takes one ``$input``.
"""

from __future__ import annotations

from gql import gql

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

# Which mutation carries each upload kind.
KIND_OPERATION = {"gps": "upsertGpsData", "signal": "upsertSignalData", "dtc": "upsertDtcData",
                  "network_stats": "createNetworkStats"}
