"""Materialization metadata for an upload (pure: report in, metadata dict out). Never holds the token or the
state database's password."""

from __future__ import annotations

import dagster as dg

from fleet_assets.analytics.ledger_queries import Ledger
from fleet_assets.analytics.operations import KINDS
from fleet_assets.analytics.upload_report import UploadReport


def upload_metadata(report: UploadReport, ledger: Ledger) -> dict:
    pos = report.position
    elapsed = sum(report.seconds.values())
    rows = "\n".join(
        f"| {kind} | {report.records_in_partition.get(kind, 0)} | {report.records_sent.get(kind, 0)} "
        f"| {report.already_acknowledged.get(kind, 0)} |" for kind in KINDS)
    summary = (
        f"**Endpoint** `{report.endpoint}`: {report.requests} requests, {report.retries} retries, "
        f"{report.dead_lettered} dead-lettered this run.\n\n"
        "| kind | records in partition | sent this run | already acknowledged |\n|---|---|---|---|\n"
        f"{rows}\n\n"
        f"Ledger: {pos.acked_batches} batches / {pos.acked_records} records acknowledged, "
        f"{pos.dead_lettered} dead letters in total for this partition.")
    meta: dict = {
        "dagster/row_count": pos.acked_records,
        "endpoint": report.endpoint,
        "requests": report.requests,
        "retries": report.retries,
        "dead_lettered": report.dead_lettered,
        "dead_lettered_total": pos.dead_lettered,
        "batches_sent": report.batches_completed,
        "ledger_position": f"{report.batches_completed}/{report.batches_planned} batches of this run; "
                           f"{pos.acked_batches} acknowledged in total",
        "ledger_acked_batches": pos.acked_batches,
        "configurations_created": report.configurations_created,
        "ledger": ledger.location,  # the file, or "postgres <url without password>"
        "seconds": dg.MetadataValue.json(report.seconds),
        "records_per_second": round(sum(report.records_sent.values()) / elapsed, 1) if elapsed else 0.0,
        "summary": dg.MetadataValue.md(summary),
    }
    if ledger.path is not None:
        meta["ledger_path"] = dg.MetadataValue.path(str(ledger.path))
    for kind in KINDS:
        meta[f"records_sent/{kind}"] = report.records_sent.get(kind, 0)
    return meta
