"""Command line: upload one day's partitions outside Dagster (ops, benchmarks, crash tests).

The asset's code path: the same ``UploadSettings`` (every setting is a flag,
derived from its declaration: name, default, help and bounds; the one
exception is the token, read from an environment variable, never from the
command line, which other users can see in ``ps``) and the same
``open_upload``. Reads the Parquet datasets under ``--data-dir`` shard by shard
(``analytics.day_shards``: whole vehicles per shard, bounded memory), records
acks in ``analytics_ledger.duckdb`` there (or in PostgreSQL when
``FLEET_STATE_URL`` is set), and prints progress. Bad arguments get one line
and exit 2 before anything is read or written; so does a state database that
cannot be reached, before anything is sent. The day is canonicalised
(``20251104`` is ``2025-11-04``) because it keys the ledger.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import typing
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pyarrow.dataset  # noqa: F401 -- pq.read_table imports it lazily; load it with the other imports
from pydantic import ValidationError

from fleet_assets import settings as env
from fleet_assets.analytics.cli_parser import OneLineParser
from fleet_assets.analytics.records import AnalyticsInputError, canonical_day
from fleet_assets.analytics.upload_settings import UploadSettings, setting_meta
from fleet_assets.analytics.day_shards import stored_day
from fleet_assets.analytics.uploader import UploadIncompleteError
from fleet_assets.analytics.wiring import open_upload
from fleet_assets.state.postgres import StateError
from fleet_assets.storage.layout import DataLayout
from fleet_assets.storage.objects import StorageError

PROG = "python -m fleet_assets.analytics.cli"


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc.msg}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _argument_kwargs(annotation: Any) -> dict[str, Any]:
    """argparse's ``type`` / ``choices`` / ``action`` for a settings type."""
    if typing.get_origin(annotation) is typing.Union:  # Optional[X]
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if annotation is bool:
        return {"action": argparse.BooleanOptionalAction}
    if typing.get_origin(annotation) is typing.Literal:
        return {"choices": typing.get_args(annotation)}
    if typing.get_origin(annotation) is dict:
        return {"type": _json_object, "metavar": "JSON"}
    return {"type": annotation}


def add_settings_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per ``UploadSettings`` field that has one (metadata ``flag``): dest, default and help from it."""
    group = parser.add_argument_group("upload settings (the AnalyticsResource's fields)")
    for name, info in UploadSettings.model_fields.items():
        flag = setting_meta(name)["flag"]
        if flag is None:
            continue
        default = info.get_default(call_default_factory=True)
        help_text = info.description.replace("%", "%%") + " (default: %(default)s)"
        group.add_argument(flag, dest=name, default=default, help=help_text, **_argument_kwargs(info.annotation))
    group.add_argument("--verbatim-documents", dest="coalesce_mutations", action="store_false",
                       default=argparse.SUPPRESS, help="the same as --no-coalesce-mutations")


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        description="Upload one UTC day (GPS, OBD signals, DTCs, network stats) to an IcsAnalytics-compatible "
                    "GraphQL endpoint exactly once; re-running sends only what was not acknowledged.")
    parser.add_argument("--date", required=True, type=str, help="partition day, YYYY-MM-DD (UTC)")
    parser.add_argument("--data-dir", default=env.data_dir(),
                        help=f"platform data dir (default: ${env.DATA_DIR_ENV} or ./data)")
    (token_var,) = setting_meta("auth_token")["env"]
    parser.add_argument("--token-env", default=token_var,
                        help="env var holding the bearer token (auth_token), if set (default %(default)s)")
    parser.add_argument("--backend-reset", action="store_true",
                        help="declare that the backend lost everything: forget what the ledger recorded for this "
                             "backend identity (all days, ids) and send this day again; other days are sent again "
                             "when they are uploaded next")
    parser.add_argument("--retry-dead-letters", action="store_true",
                        help="send this day's dead-lettered records again (e.g. after the backend was fixed)")
    parser.add_argument("--json", action="store_true", help="print the final report as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and the result")
    add_settings_flags(parser)
    endpoint_vars = " or ".join(f"${name}" for name in setting_meta("endpoint")["env"])
    parser.epilog = (f"--endpoint defaults to {endpoint_vars} when set. The upload ledger is analytics_ledger.duckdb in "
                     f"--data-dir, or the PostgreSQL database of ${env.STATE_URL_ENV} when set.")
    return parser


def settings_from_args(parser: OneLineParser, args: argparse.Namespace) -> UploadSettings:
    """The flags' values as ``UploadSettings`` (its bounds checked: a bad value is one line, exit 2)."""
    values = {name: getattr(args, name) for name in UploadSettings.model_fields if hasattr(args, name)}
    values["endpoint"] = values["endpoint"] or env.analytics_endpoint()
    values["auth_token"] = env.env_secret(args.token_env)
    try:
        return UploadSettings(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0])
        where = setting_meta(name)["flag"] or name
        parser.error(f"{where}: {error['msg']} (got {getattr(args, name, None)!r})")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        partition_key = canonical_day(args.date)
    except AnalyticsInputError as exc:
        parser.error(f"--date: {exc}")
    if not Path(args.data_dir).is_dir():
        parser.error(f"--data-dir: {args.data_dir} does not exist (or is not a directory); "
                     f"set it or ${env.DATA_DIR_ENV} to the platform's data dir")
    settings = settings_from_args(parser, args)

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    log = logging.getLogger(__name__)
    started = time.perf_counter()
    storage = DataLayout.from_settings(args.data_dir)  # FLEET_STORAGE_URL / FLEET_STATE_URL when set
    try:
        with stored_day(storage.dataset, partition_key, settings.shard_rows) as shards:  # read shard by shard
            if not shards.present:
                where = args.data_dir if storage.is_local else storage.store.url
                print(f"{partition_key}: no data for this day in {where} (no telemetry, edge_events or edge_dtcs "
                      f"partition); nothing sent")
                return 0
            if len(shards) > 1:
                log.info("%s: %d shards of whole vehicles (--shard-rows %d)", partition_key, len(shards),
                         settings.shard_rows)
            with open_upload(settings, storage, log) as upload:
                ledger = upload.ledger
                if args.backend_reset:
                    removed = ledger.forget_backend()
                    log.warning("backend %s declared reset: forgot %d acknowledged records of %d batches, %d dead "
                                "letters and the cached ids", ledger.endpoint, removed["upload_records"],
                                removed["upload_batches"], removed["dead_letters"])
                if args.retry_dead_letters:
                    log.warning("requeued %d dead-lettered records of %s",
                                ledger.requeue_dead_letters(partition_key), partition_key)
                report = upload.uploader.upload(partition_key, shards)
    except (StorageError, AnalyticsInputError, UploadIncompleteError, StateError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({**asdict(report), "elapsed_seconds": round(time.perf_counter() - started, 4)}))
    else:
        print(f"{partition_key}: sent {report.records_sent}, {report.requests} requests, {report.retries} retries, "
              f"{report.dead_lettered} dead-lettered; ledger {report.position}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
