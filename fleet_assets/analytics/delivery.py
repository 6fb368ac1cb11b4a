"""Send and settle: planned batches on the wire with a bounded window, acks recorded in the ledger in order.

A batch is recorded in the ledger right after the backend acknowledged it; a
rejected batch is bisected until the bad record is isolated and
dead-lettered, and the rest is sent, up to ``max_dead_letters`` per run (a
backend refusing records wholesale fails the run instead of dead-lettering
the day record by record). Requests run on sender threads; every ledger write
stays on the calling thread, in submission order.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from fleet_assets.analytics.batching import Batch, Item
from fleet_assets.analytics.ledger_queries import Ledger
from fleet_assets.analytics.operations import KIND_OPERATION, KINDS, alias
from fleet_assets.analytics.sender import AnalyticsSendError, GraphQLSender, RecordsRejectedError, StaleIdsError
from fleet_assets.analytics.upload_report import UploadReport
from fleet_assets.analytics.upload_settings import UploadSettings


class DeadLetterLimitError(AnalyticsSendError):
    """More records were rejected in one run than ``max_dead_letters``: the backend, not the records, is wrong."""


class BatchDelivery:
    """Delivers one run's batches; the dead-letter budget (``max_dead_letters``) is per instance, i.e. per run."""

    def __init__(self, sender: GraphQLSender, ledger: Ledger, settings: UploadSettings,
                 log: logging.Logger):
        self.sender = sender
        self.ledger = ledger
        self.settings = settings
        self.log = log
        self._dead_count, self._dead_lock = 0, threading.Lock()

    def _deliver(self, batch: Batch, acked: list[Item], dead: list[tuple[Item, str]]) -> None:
        """Send ``batch``; on rejection bisect until single bad records are isolated.

        A coalesced batch whose answer names the failed aliases acknowledges
        the fields that committed (re-sending them would duplicate a
        non-idempotent ``create``), re-delivers the first failed field alone
        (bisected if it is rejected again) and the remaining fields together.
        """
        sample = batch.sample_variables() if self.settings.validate_payloads == "sample" else None
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

    def senders(self) -> ThreadPoolExecutor:
        """The request threads (each keeps its own HTTP session): one pool for every shard of a run."""
        return ThreadPoolExecutor(max_workers=max(1, self.settings.max_in_flight), thread_name_prefix="analytics-send")

    def send_all(self, partition_key: str, planned: dict[str, Future], report: UploadReport,
                 senders: ThreadPoolExecutor | None = None) -> None:
        """Send every planned batch with at most ``max_in_flight`` requests outstanding.

        Acks are settled oldest first, so ledger writes stay on this thread and
        in order while the next requests are already on the wire. On a failure
        nothing new is submitted; batches already in flight finish and, if
        acknowledged, are recorded (their acks are real), then the error is raised.
        ``senders``: the run's pool (:meth:`senders`), reused shard after shard; default a pool of its own.
        """
        window = max(1, self.settings.max_in_flight)
        progress: dict[str, list[int]] = {}
        in_flight: deque[tuple[Batch, Future]] = deque()
        with contextlib.nullcontext(senders) if senders is not None else self.senders() as senders:
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
