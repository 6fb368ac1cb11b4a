"""The embedded IcsAnalytics-compatible GraphQL backend: state + execution (graphql-core over the SDL).

It stores what it receives (``store``: in memory, or a SQLite file that outlives
the process) with upsert-by-natural-key semantics (GPS ``(configurationId,
time)``, signals ``(configurationId, messageId, name, time)``, DTCs
``(configurationId, messageId, dtcId, time)``, network stats
``(configurationId|vehicleId, name, uploadId)``), so a re-delivered batch
changes nothing and is counted in ``duplicate_deliveries``: the backend half
of exactly-once. Each request is atomic (a rejected record rejects its whole
request, like a transactional resolver). Faults come from a deterministic
``FaultPlan`` (``fault_plan``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import orjson
from graphql import ExecutionResult, GraphQLError, build_schema, execute_sync, parse, validate
from graphql.language import OperationDefinitionNode

from fleet_assets.analytics.sandbox.fault_plan import FaultPlan
from fleet_assets.analytics.sandbox.plain_points import PlainPointsExecutionContext
from fleet_assets.analytics.sandbox.store import MemoryStore, SqliteStore
from fleet_assets.analytics.sdl import sdl_text

log = logging.getLogger(__name__)


def _json_body(body: bytes) -> Any:
    """The request's JSON: orjson (~4x faster on 10^5 points), else the standard library for what only it
    reads (NaN/Infinity literals, UTF-16/32 bodies, integers past 64 bits, lone surrogates), so the backend
    accepts exactly the bodies it accepted before and answers a malformed one with the same error."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _rejected(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT"})


@dataclass
class AnalyticsSandboxResponse:
    status: int
    body: bytes
    hang: bool = False


class AnalyticsSandbox:
    """The backend state + GraphQL execution. Thread-safe (one lock around each request)."""

    def __init__(self, faults: FaultPlan | None = None, required_token: str | None = None,
                 max_aliases: int | None = None, store_path: str | None = None):
        self.faults = faults or FaultPlan()
        # A file store is shared with every other process using the same path (runs, `make dev`'s server).
        self.data: MemoryStore | SqliteStore = SqliteStore(store_path) if store_path else MemoryStore()
        self.required_token = required_token
        self.max_aliases = max_aliases  # like a gateway's alias limit (GraphQL Armor maxAliases)
        self.on_commit: Callable[[str, int], None] | None = None
        self._lock = threading.Lock()
        self._schema = build_schema(sdl_text())
        mutation = self._schema.mutation_type.fields
        mutation["createConfiguration"].resolve = self._create_configuration
        mutation["createMessage"].resolve = self._create_message
        mutation["upsertSignalData"].resolve = self._upsert_signals
        mutation["upsertDtcData"].resolve = self._upsert_dtcs
        mutation["upsertGpsData"].resolve = self._upsert_gps
        mutation["createNetworkStats"].resolve = self._create_network_stats
        self._reset_counters()

    @property
    def backend_id(self) -> str:
        """Changes when the store is new or reset: the embedded backend's identity in the upload ledger."""
        return self.data.backend_id

    def close(self) -> None:
        if isinstance(self.data, SqliteStore):
            self.data.close()

    def reset(self) -> None:
        """Forget the data and counters (a file store also gets a new ``backend_id``)."""
        self._reset_counters(reset_data=True)

    def _reset_counters(self, reset_data: bool = False) -> None:
        with self._lock:
            if reset_data:
                self.data.reset()
            self.points_received: Counter = Counter()
            self.duplicate_deliveries: Counter = Counter()
            self.requests: Counter = Counter()
            self.faults_injected: Counter = Counter()
            self.authorized_requests = 0
            self.request_no = 0
            self.busy_seconds = 0.0  # time spent executing requests: the floor any client pays

    # ------------------------------------------------------------------ stats
    def stored_counts(self) -> dict[str, int]:
        return self.data.counts()

    @property
    def configuration_count(self) -> int:
        return self.data.id_counts()[0]

    def stats(self) -> dict:
        """Stored rows and ids (the whole store), request counters (this process since start)."""
        configurations, messages = self.data.id_counts()
        with self._lock:
            return {"backend_id": self.backend_id, "stored": self.stored_counts(),
                    "points_received": dict(self.points_received),
                    "duplicate_deliveries": dict(self.duplicate_deliveries), "requests": dict(self.requests),
                    "faults_injected": dict(self.faults_injected), "configurations": configurations,
                    "messages": messages, "authorized_requests": self.authorized_requests,
                    "busy_seconds": round(self.busy_seconds, 3)}

    # -------------------------------------------------------------- resolvers
    def _create_configuration(self, _root, _info, input: dict) -> dict:
        key = (input["deviceId"], input["vehicleId"], input["fleetId"], input["organizationId"])
        return self.data.configuration(key, input)

    def _create_message(self, _root, _info, input: dict) -> list[dict]:
        out = []
        for m in input["messages"]:
            key = tuple((m.get(k) or "").strip() for k in ("arbId", "networkName", "ecuName", "name"))
            out.append(self.data.message(key, m))
        return out

    def _config(self, cid: int) -> dict:
        conf = self.data.configuration_by_id(cid)
        if conf is None:
            raise _rejected(f"unknown configurationId {cid}")
        return conf

    def _check_message(self, mid: int) -> dict:
        msg = self.data.message_by_id(mid)
        if msg is None:
            raise _rejected(f"unknown messageId {mid}")
        return msg

    def _commit(self, kind: str, writes: list[tuple[tuple, Any]]) -> None:
        """Apply all writes of one request (called only after the whole request validated)."""
        duplicates = self.data.upsert(kind, writes)
        if duplicates:
            self.duplicate_deliveries[kind] += duplicates
        self.points_received[kind] += len(writes)
        if self.on_commit is not None:
            self.on_commit(kind, len(writes))

    def _poison_check(self, kind: str, key: tuple) -> None:
        if self.faults.is_poisoned(kind, key):
            raise _rejected(f"{kind} record {key!r} rejected by the sandbox fault plan (poisoned record)")

    def _upsert_signals(self, _root, _info, input: dict | None = None) -> list[dict]:
        writes, out = [], []
        poisoning = self.faults.poison_rate > 0
        for sig in (input or {}).get("signals", []):
            self._config(sig["configurationId"])
            msg = self._check_message(sig["messageId"])
            cid, mid, name, unit = sig["configurationId"], sig["messageId"], sig["name"], sig["unit"]
            for point in sig["data"]:
                key = (cid, mid, name, point["time"])
                if poisoning:  # ~10^5 points a request: skip the call when no record can be poisoned
                    self._poison_check("signal", key)
                writes.append((key, (point.get("value"), point.get("svalue"), unit)))
            out.append({**sig, "id": len(out) + 1, "messageName": msg["name"]})
        self._commit("signal", writes)
        return out

    def _upsert_dtcs(self, _root, _info, input: list | None = None) -> list[dict]:
        writes, out = [], []
        for group in input or []:
            if group is None:
                continue
            self._config(group["configurationId"])
            self._check_message(group["messageId"])
            for item in group["data"]:
                key = (group["configurationId"], group["messageId"], item["dtcId"], item["time"])
                self._poison_check("dtc", key)
                writes.append((key, (item["status"], item["description"])))
            out.append(group)
        self._commit("dtc", writes)
        return out

    def _upsert_gps(self, _root, _info, input: dict | None = None) -> list[dict]:
        if not input:
            return []
        conf = self._config(input["configurationId"])
        writes = []
        for point in input["data"]:
            key = (input["configurationId"], point["time"])
            self._poison_check("gps", key)
            writes.append((key, (point.get("latitude"), point.get("longitude"), point.get("speed"))))
        self._commit("gps", writes)
        # One row per request, not per point: clients select only ids and ignore the list.
        first = input["data"][0] if input["data"] else {"time": ""}
        return [{"id": self.points_received["gps"], "configurationId": conf["id"], "deviceId": conf["deviceId"],
                 "fleetId": conf["fleetId"], "vehicleId": conf["vehicleId"],
                 "organizationId": conf["organizationId"], **first}]

    def _create_network_stats(self, _root, _info, input: dict) -> dict:
        owner = input.get("configurationId") or input.get("vehicleId")
        if owner is None:
            raise _rejected("createNetworkStats needs configurationId or vehicleId")
        if input.get("configurationId") is not None:
            self._config(input["configurationId"])
        key = (owner, input["name"], input.get("uploadId"))
        self._poison_check("network_stats", key)
        self._commit("network_stats", [(key, input)])
        return {"id": self.points_received["network_stats"], **input}

    # ---------------------------------------------------------------- requests
    def _execute(self, document, variables: dict | None) -> ExecutionResult:
        """``graphql_sync`` on the parsed document (validate, then execute); plain signal points are coerced
        without graphql-core's per-value walk, to the same values (``plain_points``)."""
        errors = validate(self._schema, document)
        if errors:
            return ExecutionResult(data=None, errors=errors)
        return execute_sync(self._schema, document, variable_values=variables,
                            execution_context_class=PlainPointsExecutionContext)

    def handle(self, body: bytes, headers: Mapping[str, str]) -> AnalyticsSandboxResponse:
        """One HTTP request body → response, with the fault plan applied."""
        with self._lock:
            started = time.perf_counter()
            try:
                return self._handle(body, headers)
            finally:
                self.busy_seconds += time.perf_counter() - started

    def _handle(self, body: bytes, headers: Mapping[str, str]) -> AnalyticsSandboxResponse:
            self.request_no += 1
            if self.required_token is not None:
                if headers.get("authorization") != f"Bearer {self.required_token}":
                    return AnalyticsSandboxResponse(401, b'{"errors": [{"message": "unauthorized"}]}')
                self.authorized_requests += 1
            try:
                payload = _json_body(body)
                document = parse(payload["query"])
            except Exception as exc:  # noqa: BLE001 - any malformed body is the client's fault
                body = json.dumps({"errors": [{"message": f"bad request: {exc}"}]}).encode()
                return AnalyticsSandboxResponse(400, body)
            op = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None)
            field = op.selection_set.selections[0].name.value if op else "?"
            self.requests[field] += 1
            aliases = sum(1 for f in op.selection_set.selections if getattr(f, "alias", None)) if op else 0
            if self.max_aliases is not None and aliases > self.max_aliases:
                self.faults_injected["too_many_aliases"] += 1
                return AnalyticsSandboxResponse(400, json.dumps({"errors": [{
                    "message": f"Syntax Error: Aliases limit of {self.max_aliases} exceeded, found {aliases}.",
                    "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}]}).encode())
            outcome = self.faults.outcome(self.request_no)
            if outcome != "ok":
                self.faults_injected[outcome] += 1
            if outcome == "http_500":
                return AnalyticsSandboxResponse(500, b"")
            if outcome == "graphql_error":
                return AnalyticsSandboxResponse(200, b'{"data": null, "errors": [{"message": "injected internal error",'
                                            b' "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}')
            if outcome == "timeout":
                return AnalyticsSandboxResponse(504, b"", hang=True)
            with self.data.transaction():  # what the resolvers wrote commits, even next to an error (aliases)
                result = self._execute(document, payload.get("variables"))
            if outcome == "commit_then_500":
                return AnalyticsSandboxResponse(500, b"")
            out: dict[str, Any] = {"data": result.data}
            if result.errors:
                out["errors"] = [e.formatted for e in result.errors]
            return AnalyticsSandboxResponse(200, json.dumps(out).encode())
