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

The halves live apart: ``id_resolution`` (configuration and message ids), ``delivery``
(send, bisect, settle in the ledger); this module plans and orders them.

The one window: a crash after the backend committed a batch but before the
ledger recorded the ack means that batch is sent again on the next run
(at-least-once for at most ``max_in_flight`` batches). The backend's upsert
by natural key absorbs it; the sandbox backend does, and counts it as a
duplicate delivery.
"""

from __future__ import annotations

import gc
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.analytics import records, wire_items
from fleet_assets.analytics.batching import Batch, pack
from fleet_assets.analytics.day_shards import DayShards, PartitionData
from fleet_assets.analytics.delivery import BatchDelivery
from fleet_assets.analytics.id_resolution import IdResolver
from fleet_assets.analytics.ledger_queries import Ledger
from fleet_assets.analytics.operations import KINDS
from fleet_assets.analytics.sender import AnalyticsSendError, GraphQLSender, StaleIdsError
from fleet_assets.analytics.upload_report import UploadReport
from fleet_assets.analytics.upload_settings import UploadSettings

log = logging.getLogger(__name__)


class UploadIncompleteError(RuntimeError):
    """The partition was not fully delivered; the ledger says where the next run resumes."""


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
class _DayLedger:
    """What the ledger says about the day and the backend, read once per upload (one short session)."""

    resolved_kinds: set[str]  # kinds with anything acknowledged or dead-lettered (a shard asks which of its own)
    configs: dict  # cached configuration ids (VehicleIds -> id), updated as ids are created
    messages: dict[str, int]  # cached message ids, updated likewise
    stats_id_field: str | None = None  # probed once, when the first unsent network stats show up


@dataclass
class _Prepared:
    resolved_kinds: set[str]  # kinds of the day the ledger holds anything of (else nothing is asked per shard)
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


class PartitionUploader:
    """Plans one partition (ids, pending records, batches) and hands the batches to ``BatchDelivery``."""

    def __init__(self, sender: GraphQLSender, ledger: Ledger, settings: UploadSettings,
                 logger: logging.Logger | None = None):
        self.sender = sender
        self.ledger = ledger
        self.settings = settings
        self.log = logger or log
        self.ids = IdResolver(sender, ledger, settings, self.log)

    def _resolved(self, partition_key: str, kind: str, table: pa.Table, resolved_kinds: set[str]) -> np.ndarray:
        """Sorted fingerprints of ``table`` (one shard's records of ``kind``) the ledger acked or dead-lettered."""
        if kind not in resolved_kinds or not table.num_rows:
            return np.empty(0, np.int64)
        return self.ledger.resolved_among(partition_key, kind, table["fingerprint"].to_numpy())

    def _pending(self, partition_key: str, kind: str, table: pa.Table, prepared: _Prepared,
                 report: UploadReport) -> pa.Table:
        """Drop the records the ledger already resolved (acked or dead-lettered)."""
        resolved = self._resolved(partition_key, kind, table, prepared.resolved_kinds)
        pending = table.filter(pa.array(~_is_in(table["fingerprint"], resolved))) if len(resolved) else table
        report.records_in_partition[kind] = report.records_in_partition.get(kind, 0) + table.num_rows
        report.already_acknowledged[kind] = (report.already_acknowledged.get(kind, 0)
                                             + table.num_rows - pending.num_rows)
        return pending

    def _day_ledger(self, partition_key: str) -> _DayLedger:
        with self.ledger.session():  # one short critical section for every read
            return _DayLedger(self.ledger.resolved_kinds(partition_key), self.ledger.configuration_ids(),
                              self.ledger.message_ids())

    def _prepare(self, partition_key: str, data: PartitionData, report: UploadReport,
                 day: _DayLedger | None = None) -> _Prepared:
        """The I/O half of planning one shard: ids resolved (backend, ledger-cached) for its vehicles and PIDs.

        Vehicles come from the network-stats records (one per vehicle and source,
        so every vehicle of every kind), PIDs from the events' columns: the
        signal records themselves are built later, on the packing thread.
        """
        records.check_inputs(data.telemetry, data.edge_events, data.edge_dtcs)
        day = day or self._day_ledger(partition_key)
        built = {kind: build_kind(partition_key, kind, data) for kind in ("gps", "network_stats")}
        vehicles = {key for kind in ("network_stats", "gps")
                    for key in pc.unique(built[kind]["vehicle_key"]).to_pylist()}
        configs = self.ids.configurations(vehicles, day.configs, report)
        needed = wire_items.messages_needed(records.pids_with_values(data.edge_events),
                                            records.has_dtc_items(data.edge_dtcs))
        messages = self.ids.messages(needed, day.messages, report)
        stats = built["network_stats"]
        if day.stats_id_field is None and not _is_in(
                stats["fingerprint"], self._resolved(partition_key, "network_stats", stats, day.resolved_kinds)).all():
            day.stats_id_field = self.ids.network_stats_id_field()
        return _Prepared(day.resolved_kinds, built, configs, messages, day.stats_id_field)

    def _pack_kind(self, partition_key: str, kind: str, data: PartitionData, prepared: _Prepared,
                   report: UploadReport) -> list[Batch]:
        """The pure half: one kind's records (pending only) → wire items → deterministic batches."""
        table = prepared.built.get(kind)
        pending = self._pending(partition_key, kind, table if table is not None else build_kind(partition_key, kind, data),
                                prepared, report)
        config_of, messages = prepared.configs.__getitem__, prepared.messages
        if kind == "gps":
            items = wire_items.gps_items(pending, config_of)
        elif kind == "signal":
            items = wire_items.signal_items(pending, config_of, messages)
        elif kind == "dtc":
            items = wire_items.dtc_items(pending, config_of, messages)
        elif prepared.stats_id_field:
            items = wire_items.network_stats_items(pending, config_of, lambda k: self.ids.vehicle_ids(k).vehicle_id,
                                                   prepared.stats_id_field)
        else:
            items = []
        s = self.settings
        return pack(partition_key, kind, items, s.max_points_per_request, s.max_bytes_per_request, s.coalesce_mutations,
                    s.max_aliases_per_request)

    def plan(self, partition_key: str, data: PartitionData | DayShards,
             report: UploadReport) -> dict[str, list[Batch]]:
        """Pending records (fingerprint not resolved in the ledger) packed into batches per kind, all shards."""
        shards = _as_shards(data)
        day = self._day_ledger(partition_key)
        plan: dict[str, list[Batch]] = {kind: [] for kind in KINDS}
        for shard in shards:
            prepared = self._prepare(partition_key, shard, report, day)
            for kind in KINDS:
                plan[kind] += self._pack_kind(partition_key, kind, shard, prepared, report)
        return plan

    def upload(self, partition_key: str, data: PartitionData | DayShards) -> UploadReport:
        """Upload the day: one ``PartitionData`` in memory, or its ``DayShards`` (sent shard by shard)."""
        partition_key = records.canonical_day(partition_key)  # one day, one ledger key, however it was spelled
        if isinstance(data, PartitionData):
            records.check_inputs(data.telemetry, data.edge_events, data.edge_dtcs)  # before the ledger is touched
        with automatic_gc_paused():
            return self._upload(partition_key, _as_shards(data))

    def _upload(self, partition_key: str, data: DayShards) -> UploadReport:
        report = UploadReport(partition_key=partition_key, endpoint=self.ledger.endpoint)
        delivery = BatchDelivery(self.sender, self.ledger, self.settings, self.log)  # one dead-letter budget per run
        try:
            try:
                self._upload_once(partition_key, data, report, delivery)
            except StaleIdsError as exc:
                self.log.warning(
                    "analytics %s: the backend does not know ids cached in the ledger for %s (%s); it was reset or "
                    "replaced. Re-resolving configuration and message ids once and continuing. Records it "
                    "acknowledged before are not re-sent; declare a reset to send everything again.",
                    partition_key, self.ledger.endpoint, exc)
                self.ledger.forget_ids()
                self._upload_once(partition_key, data, report, delivery)
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

    def _upload_once(self, partition_key: str, data: DayShards, report: UploadReport,
                     delivery: BatchDelivery) -> None:
        """Shard by shard: resolve the shard's ids, then build, pack and send its batches.

        Memory is one shard's records, items and batches (plus the day's acknowledged fingerprints,
        8 bytes each); the shards hold whole vehicles, so they give exactly the day's records.
        """
        t0 = time.perf_counter()
        day = self._day_ledger(partition_key)
        with delivery.senders() as senders:  # one set of request threads (HTTP sessions) for every shard
            self._send_shards(partition_key, data, report, delivery, day, senders)
        report.seconds["records+send"] = round(time.perf_counter() - t0 - report.seconds.get("ids", 0.0), 3)
        self.log.info("analytics %s: already acknowledged before this run %s", partition_key,
                      report.already_acknowledged)

    def _start_shard(self, partition_key: str, shard: PartitionData | None, report: UploadReport, day: _DayLedger,
                     packer: ThreadPoolExecutor) -> dict[str, Future] | None:
        """Resolve the shard's ids (this thread: requests and ledger writes), then queue its kinds on ``packer``."""
        if shard is None:
            return None
        t1 = time.perf_counter()
        prepared = self._prepare(partition_key, shard, report, day)
        report.seconds["ids"] = round(report.seconds.get("ids", 0.0) + time.perf_counter() - t1, 3)
        return {kind: packer.submit(self._pack_kind, partition_key, kind, shard, prepared, report) for kind in KINDS}

    def _send_shards(self, partition_key: str, data: DayShards, report: UploadReport, delivery: BatchDelivery,
                     day: _DayLedger, senders: ThreadPoolExecutor) -> None:
        """Send shard k while shard k+1 is built and packed (pure Python, one packer thread, in kind order).

        Without the overlap, client and backend alternated: the packer built all of a shard's batches before
        its first request, then idled while the backend worked. Two shards are in memory at a time (the
        ``shard_rows`` default is sized for two). Every ledger write stays on this thread, in order.
        """
        shards = iter(data)
        packer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics-pack")
        try:
            ahead = self._start_shard(partition_key, next(shards, None), report, day, packer)
            number = 0
            while ahead is not None:
                futures, number = ahead, number + 1
                ahead = self._start_shard(partition_key, next(shards, None), report, day, packer)
                planned_before = report.batches_planned
                try:
                    delivery.send_all(partition_key, futures, report, senders)
                except AnalyticsSendError:
                    report.batches_planned = planned_before + sum(len(f.result()) for f in futures.values())
                    raise
                if len(data) > 1:
                    self.log.info("analytics %s: shard %d/%d sent", partition_key, number, len(data))
                    del futures
                    # The collector is paused for the upload; a shard's cyclic leftovers go here. Youngest
                    # generation only: what was allocated since the last shard (a full pass walked the whole
                    # heap each shard, ~0.5 s in a process that imported Dagster).
                    gc.collect(0)
        finally:
            packer.shutdown(wait=True, cancel_futures=True)  # a failed run does not pack the shard ahead


def _as_shards(data: PartitionData | DayShards) -> DayShards:
    return data if isinstance(data, DayShards) else DayShards.of(data)


def _is_in(fingerprints: pa.ChunkedArray | pa.Array, resolved: np.ndarray) -> np.ndarray:
    """Mask: which ``fingerprints`` are in the sorted array ``resolved``."""
    values = fingerprints.to_numpy()
    if not len(resolved):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(resolved, values).clip(max=len(resolved) - 1)
    return resolved[at] == values
