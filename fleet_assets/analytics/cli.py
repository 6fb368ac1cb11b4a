"""Command line: upload one day's partitions outside Dagster (ops, benchmarks, crash tests).

Same code path as the ``analytics_upload`` asset: reads the Parquet datasets
under ``--data-dir``, records acks in ``analytics_ledger.duckdb`` there, and
prints progress. The token is read from an environment variable, never from
the command line (which other users can see in ``ps``). Bad arguments get one
line and exit 2 before anything is read or written; the day is canonicalised
(``20251104`` is ``2025-11-04``) because it keys the ledger.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

import pyarrow.dataset  # noqa: F401 -- pq.read_table imports it lazily; load it with the other imports

from fleet_assets.analytics.ledger import UploadLedger, backend_identity
from fleet_assets.analytics.records import AnalyticsInputError, canonical_day
from fleet_assets.analytics.sender import GraphQLSender, RetryPolicy
from fleet_assets.analytics.uploader import PartitionData, PartitionUploader, UploadIncompleteError, UploadSettings
from fleet_assets.resources.analytics import ENDPOINT_ENV_VARS, SANDBOX_STORE, embedded_sandbox
from fleet_assets.resources.storage import FleetStorage
from fleet_assets.storage.parquet_partitions import read_partition


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is ONE line (``prog: error: …``) and exit 2, without the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m fleet_assets.analytics.cli",
        description="Upload one UTC day (GPS, OBD signals, DTCs, network stats) to an IcsAnalytics-compatible "
                    "GraphQL endpoint exactly once; re-running sends only what was not acknowledged.")
    parser.add_argument("--date", required=True, type=str, help="partition day, YYYY-MM-DD (UTC)")
    parser.add_argument("--endpoint", default=None,
                        help="GraphQL URL, e.g. http://127.0.0.1:8765/graphql (default: $GRAPH_SERVICE_URL, "
                             "$GRAPH_ENDPOINT, else the embedded sandbox over DATA_DIR/analytics_sandbox.sqlite, "
                             "the backend of the asset's embedded default and of `make dev`)")
    parser.add_argument("--backend-id", default=None,
                        help="the backend's identity in the ledger (default: the normalised endpoint URL); give "
                             "every URL of one backend the same value, e.g. localhost and 127.0.0.1")
    parser.add_argument("--backend-generation", default=None,
                        help="a new value after the backend was reset makes it a new backend in the ledger "
                             "(same as the resource's backend_generation)")
    parser.add_argument("--backend-reset", action="store_true",
                        help="declare that the backend lost everything: forget what the ledger recorded for this "
                             "backend identity (all days, ids) and send this day again; other days are sent again "
                             "when they are uploaded next")
    parser.add_argument("--data-dir", default=os.environ.get("FLEET_DATA_DIR", "data"),
                        help="platform data dir (default: $FLEET_DATA_DIR or ./data)")
    parser.add_argument("--token-env", default="SEC_AUTH_TOKEN",
                        help="env var holding the bearer token, if set (default %(default)s)")
    parser.add_argument("--max-points", type=int, default=UploadSettings.max_points_per_request,
                        help="data points per request (default %(default)s)")
    parser.add_argument("--max-bytes", type=int, default=UploadSettings.max_bytes_per_request,
                        help="body bytes per request (default %(default)s)")
    parser.add_argument("--max-in-flight", type=int, default=UploadSettings.max_in_flight,
                        help="requests outstanding at once; acks are recorded in order (default %(default)s)")
    parser.add_argument("--verbatim-documents", action="store_true",
                        help="send only IcsAnalytics' exact documents, one configuration / GPS vehicle / network "
                             "stat per request (for a backend that allow-lists documents); default: coalesce them "
                             "as aliased fields")
    parser.add_argument("--max-aliases", type=int, default=UploadSettings.max_aliases_per_request,
                        help="aliased fields per coalesced document at most (default %(default)s)")
    parser.add_argument("--max-dead-letters", type=int, default=UploadSettings.max_dead_letters,
                        help="rejected records this run may dead-letter before it stops (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request (default %(default)s)")
    parser.add_argument("--max-attempts", type=int, default=6, help="attempts per request (default %(default)s)")
    parser.add_argument("--backoff", type=float, default=0.5, help="first retry delay in s (default %(default)s)")
    parser.add_argument("--validate", choices=("full", "sample", "off"), default="sample",
                        help="pre-flight SDL check of each request: every point, a sample (document, every "
                             "group header, first point of each group) or none (default %(default)s)")
    parser.add_argument("--retry-dead-letters", action="store_true",
                        help="send this day's dead-lettered records again (e.g. after the backend was fixed)")
    parser.add_argument("--json", action="store_true", help="print the final report as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and the result")
    args = parser.parse_args(argv)
    try:
        day = canonical_day(args.date)
    except AnalyticsInputError as exc:
        parser.error(f"--date: {exc}")
    if not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir: {args.data_dir} does not exist (or is not a directory); "
                     "set it or $FLEET_DATA_DIR to the platform's data dir")

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    started = time.perf_counter()
    storage = FleetStorage(data_dir=args.data_dir)
    data = PartitionData(**{name: read_partition(storage.dataset(name), day)
                            for name in ("telemetry", "edge_events", "edge_dtcs")})
    if data.telemetry is None and data.edge_events is None and data.edge_dtcs is None:
        print(f"{day}: no data for this day in {args.data_dir} (no telemetry, edge_events or edge_dtcs "
              f"partition); nothing sent")
        return 0
    endpoint = args.endpoint or next((os.environ[n] for n in ENDPOINT_ENV_VARS if os.environ.get(n)), None)
    retry = RetryPolicy(args.max_attempts, args.backoff, 30.0)
    settings = UploadSettings(max_points_per_request=args.max_points, max_bytes_per_request=args.max_bytes,
                              validation=args.validate, max_in_flight=args.max_in_flight,
                              coalesce=not args.verbatim_documents, max_aliases_per_request=args.max_aliases,
                              max_dead_letters=args.max_dead_letters)
    with ExitStack() as stack:
        transport, url = (None, endpoint) if endpoint else stack.enter_context(
            embedded_sandbox(Path(args.data_dir) / SANDBOX_STORE))
        ledger = UploadLedger(storage.ledger_path, backend_identity(
            transport.identity_url if transport else url, args.backend_id, args.backend_generation))
        if args.backend_reset:
            removed = ledger.forget_backend()
            logging.getLogger(__name__).warning(
                "backend %s declared reset: forgot %d acknowledged records of %d batches, %d dead letters and the "
                "cached ids", ledger.endpoint, removed["upload_records"], removed["upload_batches"],
                removed["dead_letters"])
        if args.retry_dead_letters:
            logging.getLogger(__name__).warning("requeued %d dead-lettered records of %s",
                                                ledger.requeue_dead_letters(day), day)
        try:
            sender = stack.enter_context(GraphQLSender(
                url, token=os.environ.get(args.token_env) or None, timeout_seconds=args.timeout, retry=retry,
                httpx_transport=transport, validate=args.validate != "off"))
            report = PartitionUploader(sender, ledger, settings).upload(day, data)
        except UploadIncompleteError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.json:
        print(json.dumps({**asdict(report), "elapsed_seconds": round(time.perf_counter() - started, 4)}))
    else:
        print(f"{day}: sent {report.records_sent}, {report.requests} requests, {report.retries} retries, "
              f"{report.dead_lettered} dead-lettered; ledger {report.position}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
