"""Upload one daily partition exactly once (modulo the one window documented below).

Order: check the inputs (bad input fails before any request or ledger
write), resolve configuration and message ids from the partition's vehicles
and PIDs (ledger-cached per endpoint, so re-runs create no new configuration
rows), then per kind build the records and send only those whose fingerprint
the ledger has not resolved, in deterministic batches. Kind k+1's records are
built and packed on a worker thread while kind k is on the wire. A batch is
recorded in the ledger right after the backend acknowledged it; a rejected
batch is bisected until the bad record is isolated and dead-lettered, and the
rest is sent, up to ``max_dead_letters`` per run (a backend refusing records
wholesale fails the run instead of dead-lettering the day record by record).
An error about an id resolved from the backend (``StaleIdsError``: the
backend was reset or replaced) is not a bad record: the cached ids are
dropped and re-resolved once, and the upload continues. Transient failures
are retried by the sender; when retries run out the upload raises, and the
next run resumes with exactly the unacknowledged records. The ledger is
only held for its short reads and commits, never across a request.

The one window: a crash after the backend committed a batch but before the
ledger recorded the ack means that batch is sent again on the next run
(at-least-once for at most ``max_in_flight`` batches). The backend's upsert
by natural key absorbs it; the sandbox backend does, and counts it as a
duplicate delivery.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import deque
from contextlib import contextmanager
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.analytics import records, wire_items
from fleet_assets.analytics.batching import KINDS, Batch, Item, pack
from fleet_assets.analytics.identity import VehicleIds, resolve_vehicle_ids
from fleet_assets.analytics.ledger import LedgerPosition, UploadLedger
from fleet_assets.analytics.operations import (
    KIND_OPERATION,
    alias,
    coalesced_request,
    input_variable,
)
from fleet_assets.analytics.sender import AnalyticsSendError, GraphQLSender, RecordsRejectedError, StaleIdsError

log = logging.getLogger(__name__)


class UploadIncompleteError(RuntimeError):
    """The partition was not fully delivered; the ledger says where the next run resumes."""


class DeadLetterLimitError(AnalyticsSendError):
    """More records were rejected in one run than ``max_dead_letters``: the backend, not the records, is wrong."""


@dataclass
class UploadSettings:
    # The byte cap is what bounds a request (backend memory, time per request); the point cap is a second
    # guard for tiny points. IcsAnalytics 26.3.3 sends GPS in chunks of 10000 points (~2.5 MB) and a
    # whole day of one signal in ONE request (no cap at all). 4 MB holds ~16k GPS points or ~70k signal
    # points; fewer, larger requests cost the backend less per record (benchmarks/RESULTS.md).
    max_points_per_request: int = 50_000
    max_bytes_per_request: int = 4_000_000
    fleet_id: int = 1
    organization_id: int = 1
    vehicle_overrides: dict[str, VehicleIds] = field(default_factory=dict)
    # "full": coerce every point against the SDL before sending; "sample": the document, every group
    # header and each group's first point (catches schema drift at a fraction of the cost; the backend
    # still rejects a bad individual point, which is then bisected out). Off = GraphQLSender(validate=False).
    validation: str = "sample"
    # Requests in flight at once. 2 overlaps our packing/ledger work with the backend's processing
    # (measured: benchmarks/RESULTS.md); acks are still settled and recorded in submission order.
    # 1 = strictly one request at a time.
    max_in_flight: int = 2
    # Send one-object mutations (configurations, GPS per configuration, network stats) several per request
    # as aliased fields (operations.coalesced_request). False = only the reference documents, verbatim.
    coalesce: bool = True
    # Aliased fields per document at most. Gateways often cap aliases (GraphQL Armor: 15 by default); a
    # document the backend refuses anyway is split until it passes, so this only saves wasted requests.
    max_aliases_per_request: int = 15
    # Records one run may dead-letter (each costs ~log2(batch) bisection requests). Past it the run fails
    # with a clear error instead of dead-lettering a whole day record by record; the unresolved records of
    # the batch in progress stay pending (nothing is dropped).
    max_dead_letters: int = 100


@dataclass
class PartitionData:
    telemetry: pa.Table | None = None
    edge_events: pa.Table | None = None
    edge_dtcs: pa.Table | None = None


@dataclass
class UploadReport:
    partition_key: str
    endpoint: str
    records_in_partition: dict[str, int] = field(default_factory=dict)
    records_sent: dict[str, int] = field(default_factory=dict)
    already_acknowledged: dict[str, int] = field(default_factory=dict)
    batches_planned: int = 0
    batches_completed: int = 0
    dead_lettered: int = 0
    requests: int = 0
    retries: int = 0
    configurations_created: int = 0
    messages_created: int = 0
    position: LedgerPosition | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # ids (incl. GPS/stats records) / records+send


def build_kind(partition_key: str, kind: str, data: PartitionData) -> pa.Table:
    """One kind's record table (pure)."""
    if kind == "gps":
        return records.gps_points(data.telemetry)
    if kind == "signal":
        return records.signal_points(data.edge_events)
    if kind == "dtc":
        return records.dtc_items(data.edge_dtcs)
    return records.network_stats(partition_key, data.telemetry, data.edge_events, data.edge_dtcs)


def build_records(partition_key: str, data: PartitionData) -> dict[str, pa.Table]:
    """All four record tables; raises ``AnalyticsInputError`` before anything is sent."""
    records.check_inputs(data.telemetry, data.edge_events, data.edge_dtcs)
    return {kind: build_kind(partition_key, kind, data) for kind in KINDS}


@dataclass
class _Prepared:
    resolved: dict[str, set[int]]  # per kind: fingerprints the ledger acknowledged or dead-lettered
    built: dict[str, pa.Table]  # record tables built while resolving ids (the others are built later)
    configs: dict[str, int]
    messages: dict[str, int]
    stats_id_field: str | None


@contextmanager
def automatic_gc_paused():
    """Pause the cyclic garbage collector for one upload, then restore its previous state.

    Why: a day is ~10^5 small dicts and tuples; allocating them triggers the
    collector again and again, and each pass walks every live item (measured:
    building the wire items 4-6x slower). Records, items and batches form no
    reference cycles, so nothing accumulates while it is paused.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_fresh(what: str, created: dict, cached: dict) -> None:
    """A backend that issues an id the ledger already holds for another configuration forgot its earlier ids.

    Sending on would silently attach one vehicle's data to another's id.
    """
    known = {v: k for k, v in cached.items()}
    clash = [(key, known[new_id]) for key, new_id in created.items() if new_id in known and known[new_id] != key]
    if clash:
        raise StaleIdsError(f"create{what.title()} returned {what} id {created[clash[0][0]]} for {clash[0][0]}, "
                            f"but the ledger holds that id for {clash[0][1]}: the backend was reset or replaced")


class PartitionUploader:
    def __init__(self, sender: GraphQLSender, ledger: UploadLedger, settings: UploadSettings,
                 logger: logging.Logger | None = None):
        self.sender = sender
        self.ledger = ledger
        self.settings = settings
        self.log = logger or log

    # ---------------------------------------------------------------- ids
    def _vehicle_ids(self, vehicle_key: str) -> VehicleIds:
        s = self.settings
        return resolve_vehicle_ids(vehicle_key, s.vehicle_overrides, s.fleet_id, s.organization_id)

    def _create_configurations(self, chunk: list[VehicleIds]) -> dict[VehicleIds, int]:
        """Backend ids for ``chunk``: one request (the reference document, or its coalesced form).

        A coalesced document the backend refuses as a whole (e.g. a gateway's
        alias limit: nothing ran) is split in halves until it passes.
        """
        if len(chunk) == 1:
            data = self.sender.execute("createConfiguration", {"input": chunk[0].as_input()})
            return {chunk[0]: int(data["createConfiguration"]["id"])}
        try:
            data = self.sender.execute("createConfiguration",
                                       {input_variable(i): ids.as_input() for i, ids in enumerate(chunk)},
                                       request=coalesced_request("createConfiguration", len(chunk)))
        except RecordsRejectedError as exc:
            if exc.committed_aliases([alias(i) for i in range(len(chunk))]):
                raise  # some were created: splitting would create them twice
            self.log.warning("createConfiguration with %d aliased fields refused (%s); splitting", len(chunk), exc)
            mid = len(chunk) // 2
            return {**self._create_configurations(chunk[:mid]), **self._create_configurations(chunk[mid:])}
        return {ids: int(data[alias(i)]["id"]) for i, ids in enumerate(chunk)}

    def _resolve_configurations(self, vehicle_keys: set[str], cached: dict[VehicleIds, int],
                                report: UploadReport) -> dict[str, int]:
        wanted = {key: self._vehicle_ids(key) for key in sorted(vehicle_keys)}
        missing = sorted({ids for ids in wanted.values() if ids not in cached})
        size = self.settings.max_aliases_per_request if self.settings.coalesce else 1
        for start in range(0, len(missing), size):
            created = self._create_configurations(missing[start:start + size])
            _check_fresh("configuration", created, cached)
            self.ledger.save_configurations(created)  # right after the backend created them
            cached.update(created)
            report.configurations_created += len(created)
        return {key: cached[ids] for key, ids in wanted.items()}

    def _resolve_messages(self, needed: list[dict], cached: dict[str, int], report: UploadReport) -> dict[str, int]:
        missing = [m for m in needed if wire_items.message_key(m) not in cached]
        if missing:
            data = self.sender.execute("createMessage", {"input": {"messages": missing}})
            returned = {wire_items.message_key(m): int(m["id"]) for m in data["createMessage"]}
            unmatched = [wire_items.message_key(m) for m in missing if wire_items.message_key(m) not in returned]
            if unmatched:
                raise AnalyticsSendError(f"createMessage did not return ids for message keys {unmatched}")
            new = {k: returned[k] for k in (wire_items.message_key(m) for m in missing)}
            self.ledger.save_messages(new)
            cached.update(new)
            report.messages_created += len(new)
        return cached

    def _network_stats_id_field(self) -> str:
        """IcsAnalytics' probe: configurationId if the input type has it, else vehicleId."""
        try:
            data = self.sender.execute("introspection", None)
        except AnalyticsSendError as exc:
            self.log.warning("network-stats introspection failed (%s); assuming configurationId", exc)
            return "configurationId"
        fields = {f["name"] for f in ((data.get("__type") or {}).get("inputFields") or [])}
        return "configurationId" if "configurationId" in fields or "vehicleId" not in fields else "vehicleId"

    # ------------------------------------------------------------- sending
    def _deliver(self, batch: Batch, acked: list[Item], dead: list[tuple[Item, str]]) -> None:
        """Send ``batch``; on rejection bisect until single bad records are isolated.

        A coalesced batch whose answer names the failed aliases acknowledges
        the fields that committed (re-sending them would duplicate a
        non-idempotent ``create``), re-delivers the first failed field alone
        (bisected if it is rejected again) and the remaining fields together.
        """
        sample = batch.sample_variables() if self.settings.validation == "sample" else None
        try:
            self.sender.execute(KIND_OPERATION[batch.kind], batch.variables(), check_variables=sample,
                                request=batch.request())
        except RecordsRejectedError as exc:
            groups = batch.group_batches() if batch.uses_aliases else []
            committed = exc.committed_aliases([alias(i) for i in range(len(groups))]) if groups else None
            if isinstance(exc, StaleIdsError):  # not this record's fault: keep what committed, then stop
                acked.extend(item for index, group in enumerate(groups) if alias(index) in (committed or ())
                             for item in group.items)
                raise
            if committed is not None:
                pending = []
                for index, group in enumerate(groups):
                    if alias(index) in committed:
                        acked.extend(group.items)
                    else:
                        pending.append(group)
                if pending:
                    self._deliver(pending[0], acked, dead)
                    rest = [item for group in pending[1:] for item in group.items]
                    if rest:
                        self._deliver(Batch(batch.partition_key, batch.kind, rest, coalesced=True), acked, dead)
                return
            if len(batch.items) == 1:
                with self._dead_lock:
                    self._dead_count += 1
                    over = self._dead_count > self.settings.max_dead_letters
                if over:
                    raise DeadLetterLimitError(
                        f"more than {self.settings.max_dead_letters} records rejected in this run (max_dead_letters; "
                        f"last: {exc}): the backend is refusing records wholesale, so the upload stops instead "
                        f"of dead-lettering the day record by record") from None
                self.log.warning("dead-lettering one %s record: %s", batch.kind, exc)
                dead.append((batch.items[0], str(exc)))
                return
            left, right = batch.split()
            self._deliver(left, acked, dead)
            self._deliver(right, acked, dead)
            return
        acked.extend(batch.items)

    def _deliver_batch(self, batch: Batch) -> tuple[list[Item], list[tuple[Item, str]], AnalyticsSendError | None]:
        """Deliver one planned batch (bisecting rejections); runs on a sender thread, no ledger I/O.

        A stop mid-batch (stale ids, dead-letter limit) returns what was acknowledged so far with the error,
        so those acks are recorded before the error is raised.
        """
        acked: list[Item] = []
        dead: list[tuple[Item, str]] = []
        try:
            self._deliver(batch, acked, dead)
        except (StaleIdsError, DeadLetterLimitError) as exc:
            return acked, dead, exc
        return acked, dead, None

    def _settle(self, batch: Batch, outcome: Future, report: UploadReport, progress: dict[str, list[int]]) -> None:
        """Record one delivered batch in ONE ledger transaction (on the calling thread, in submission order).

        A bisected batch's partial acks are recorded together with the batch, so
        a crash mid-bisection re-sends that one batch (the documented window).
        """
        acked, dead, error = outcome.result()
        if error is not None:  # acks are real; the batch's dead letters are isolated again next time
            self.ledger.record_batch(batch, acked, [], complete=False)
            report.records_sent[batch.kind] = report.records_sent.get(batch.kind, 0) + len(acked)
            raise error
        self.ledger.record_batch(batch, acked, dead)
        report.records_sent[batch.kind] = report.records_sent.get(batch.kind, 0) + len(acked)
        report.dead_lettered += len(dead)
        report.batches_completed += 1
        done = progress[batch.kind]
        done[0] += 1
        if done[0] % 10 == 0 or done[0] == done[1]:
            self.log.info("analytics %s: %s batch %d/%d acknowledged", batch.partition_key, batch.kind, *done)

    def _send_all(self, partition_key: str, planned: dict[str, Future], report: UploadReport) -> None:
        """Send every planned batch with at most ``max_in_flight`` requests outstanding.

        Acks are settled oldest first, so ledger writes stay on this thread and
        in order while the next requests are already on the wire. On a failure
        nothing new is submitted; batches already in flight finish and, if
        acknowledged, are recorded (their acks are real), then the error is raised.
        """
        window = max(1, self.settings.max_in_flight)
        progress: dict[str, list[int]] = {}
        in_flight: deque[tuple[Batch, Future]] = deque()
        with ThreadPoolExecutor(max_workers=window, thread_name_prefix="analytics-send") as senders:
            try:
                for kind in KINDS:
                    batches = planned[kind].result()
                    report.batches_planned += len(batches)
                    report.records_sent.setdefault(kind, 0)
                    progress[kind] = [0, len(batches)]
                    self.log.info("analytics %s: %s: %d batches to send", partition_key, kind, len(batches))
                    for batch in batches:
                        if len(in_flight) >= window:
                            self._settle(*in_flight.popleft(), report, progress)
                        in_flight.append((batch, senders.submit(self._deliver_batch, batch)))
                while in_flight:
                    self._settle(*in_flight.popleft(), report, progress)
            except BaseException:
                for batch, outcome in in_flight:
                    if outcome.cancel():
                        continue
                    try:
                        self._settle(batch, outcome, report, progress)
                    except AnalyticsSendError:
                        pass  # the first error is the one raised; this batch stays pending
                raise

    def _pending(self, kind: str, table: pa.Table, prepared: _Prepared, report: UploadReport) -> pa.Table:
        """Drop the records the ledger already resolved (acked or dead-lettered)."""
        resolved = prepared.resolved[kind]
        pending = table.filter(pa.array([fp not in resolved for fp in table["fingerprint"].to_pylist()],
                                        pa.bool_())) if resolved else table
        report.records_in_partition[kind] = table.num_rows
        report.already_acknowledged[kind] = table.num_rows - pending.num_rows
        return pending

    def _prepare(self, partition_key: str, data: PartitionData, report: UploadReport) -> _Prepared:
        """The I/O half of planning: ledger reads, and ids resolved (backend, ledger-cached) for the partition.

        Vehicles come from the network-stats records (one per vehicle and source,
        so every vehicle of every kind), PIDs from the events' columns: the
        signal records themselves are built later, on the packing thread.
        """
        records.check_inputs(data.telemetry, data.edge_events, data.edge_dtcs)
        with self.ledger.session():  # one short critical section for every read
            resolved = {kind: self.ledger.resolved_fingerprints(partition_key, kind) for kind in KINDS}
            cached_configs, cached_messages = self.ledger.configuration_ids(), self.ledger.message_ids()
        built = {kind: build_kind(partition_key, kind, data) for kind in ("gps", "network_stats")}
        vehicles = {key for kind in ("network_stats", "gps")
                    for key in pc.unique(built[kind]["vehicle_key"]).to_pylist()}
        configs = self._resolve_configurations(vehicles, cached_configs, report)
        needed = wire_items.messages_needed(records.pids_with_values(data.edge_events),
                                            records.has_dtc_items(data.edge_dtcs))
        messages = self._resolve_messages(needed, cached_messages, report)
        stats = built["network_stats"]
        unsent_stats = any(fp not in resolved["network_stats"] for fp in stats["fingerprint"].to_pylist())
        id_field = self._network_stats_id_field() if unsent_stats else None
        return _Prepared(resolved, built, configs, messages, id_field)

    def _pack_kind(self, partition_key: str, kind: str, data: PartitionData, prepared: _Prepared,
                   report: UploadReport) -> list[Batch]:
        """The pure half: one kind's records (pending only) → wire items → deterministic batches."""
        table = prepared.built.get(kind)
        pending = self._pending(kind, table if table is not None else build_kind(partition_key, kind, data),
                                prepared, report)
        config_of, messages = prepared.configs.__getitem__, prepared.messages
        if kind == "gps":
            items = wire_items.gps_items(pending, config_of)
        elif kind == "signal":
            items = wire_items.signal_items(pending, config_of, messages)
        elif kind == "dtc":
            items = wire_items.dtc_items(pending, config_of, messages)
        elif prepared.stats_id_field:
            items = wire_items.network_stats_items(pending, config_of, lambda k: self._vehicle_ids(k).vehicle_id,
                                                   prepared.stats_id_field)
        else:
            items = []
        s = self.settings
        return pack(partition_key, kind, items, s.max_points_per_request, s.max_bytes_per_request, s.coalesce,
                    s.max_aliases_per_request)

    def plan(self, partition_key: str, data: PartitionData, report: UploadReport) -> dict[str, list[Batch]]:
        """Pending records (fingerprint not resolved in the ledger) packed into batches per kind."""
        prepared = self._prepare(partition_key, data, report)
        return {kind: self._pack_kind(partition_key, kind, data, prepared, report) for kind in KINDS}

    def upload(self, partition_key: str, data: PartitionData) -> UploadReport:
        partition_key = records.canonical_day(partition_key)  # one day, one ledger key, however it was spelled
        records.check_inputs(data.telemetry, data.edge_events, data.edge_dtcs)  # before the ledger is touched
        with automatic_gc_paused():
            return self._upload(partition_key, data)

    def _upload(self, partition_key: str, data: PartitionData) -> UploadReport:
        report = UploadReport(partition_key=partition_key, endpoint=self.ledger.endpoint)
        self._dead_count, self._dead_lock = 0, threading.Lock()
        try:
            try:
                self._upload_once(partition_key, data, report)
            except StaleIdsError as exc:
                self.log.warning(
                    "analytics %s: the backend does not know ids cached in the ledger for %s (%s); it was reset or "
                    "replaced. Re-resolving configuration and message ids once and continuing. Records it "
                    "acknowledged before are not re-sent; declare a reset to send everything again.",
                    partition_key, self.ledger.endpoint, exc)
                self.ledger.forget_ids()
                self._upload_once(partition_key, data, report)
        except AnalyticsSendError as exc:
            raise UploadIncompleteError(
                f"analytics upload of {partition_key} to {self.ledger.endpoint} stopped: {exc}. "
                f"{report.batches_completed}/{report.batches_planned} batches of this run acknowledged and "
                f"recorded in the ledger; nothing was dropped: re-running the partition sends exactly the "
                f"unacknowledged batches") from exc
        finally:
            report.requests = self.sender.stats.requests
            report.retries = self.sender.stats.retries
        report.position = self.ledger.position(partition_key)
        return report

    def _upload_once(self, partition_key: str, data: PartitionData, report: UploadReport) -> None:
        t0 = time.perf_counter()
        prepared = self._prepare(partition_key, data, report)
        t1 = time.perf_counter()
        report.seconds["ids"] = round(t1 - t0, 3)
        # Building + packing kind k+1 (pure Python) overlaps with sending kind k; every ledger write
        # stays on this thread, in order.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics-pack") as packer:
            futures = {kind: packer.submit(self._pack_kind, partition_key, kind, data, prepared, report)
                       for kind in KINDS}
            try:
                self._send_all(partition_key, futures, report)
            except AnalyticsSendError:
                report.batches_planned = sum(len(f.result()) for f in futures.values())
                raise
        report.seconds["records+send"] = round(time.perf_counter() - t1, 3)
        self.log.info("analytics %s: already acknowledged before this run %s", partition_key,
                      report.already_acknowledged)
