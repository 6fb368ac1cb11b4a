"""Daily provider assets: raw fetch -> normalized rows -> deduplicated telemetry.

Each provider is its own branch (raw_<p> -> normalized_<p>), so a provider
that fails only fails its branch: the other provider's partition still lands
in Parquet (and is queryable through the catalog views) in the same run.
``telemetry`` needs every upstream step of its run to succeed; after a
provider outage it is rebuilt by the lookback schedule or a retry, from
whichever normalized partitions exist.

Backfills: one run per partition (Dagster's default for a partitioned asset
without a backfill policy; the beta ``BackfillPolicy`` is not needed). Each day is an
independent, idempotent fetch; per-day runs isolate a bad day instead of
failing a whole range, retry per day, and run in parallel (the run queue
caps concurrency; Parquet partitions are separate files, so they never
contend for a lock).
"""


import dagster as dg
import pyarrow as pa

from fleet_assets.dataset_checks import check_results, check_specs
from fleet_assets.partitions import daily_partitions
from fleet_assets.provider_ingest.fetch import fetch_motive_day, fetch_samsara_day, open_client
from fleet_assets.provider_ingest.metadata import summary_markdown, table_metadata
from fleet_assets.provider_ingest.normalize import normalize_provider_day
from fleet_assets.provider_ingest.pools import PROVIDER_POOLS
from fleet_assets.schema import conform, empty_telemetry_table
from fleet_assets.storage.parquet_partitions import read_partition
from fleet_assets.storage.publish import publish_partition
from fleet_assets.storage.raw_store import read_raw, write_raw
from fleet_assets.transforms import dedup_telemetry
from fleet_assets.transforms.rules import DATASET_RULES
from fleet_assets.warehouse.resources import FleetStorage

TELEMETRY_SOURCES = ("normalized_edge", "normalized_motive", "normalized_samsara")  # concat order


def _publish(
    storage: FleetStorage,
    dataset: str,
    day: str,
    table: pa.Table,
    *,
    duplicates: int,
    expected_rows: int,
    count_check: str,
    stages: dict[str, int],
    **extra_metadata,
) -> dg.MaterializeResult:
    """Publish one partition (``storage.publish``: check, write, read back, re-check) plus the row-count check."""
    published = publish_partition(storage.dataset(dataset), day, table, DATASET_RULES[dataset])
    landed, written = published.table, published.written
    results = check_results(dataset, published.checks)
    results.append(
        dg.AssetCheckResult(
            asset_key=dataset,
            check_name=count_check,
            passed=landed.num_rows + duplicates == expected_rows,
            metadata={"written": landed.num_rows, "duplicates": duplicates, "expected_input_rows": expected_rows},
        )
    )
    metadata = table_metadata(
        landed,
        written.path,
        duplicates_dropped=duplicates,
        parquet_bytes=written.bytes,
        summary=summary_markdown(f"{dataset} {day}", {**stages, "duplicates dropped": duplicates, "written": landed.num_rows}),
        **extra_metadata,
    )
    return dg.MaterializeResult(metadata=metadata, check_results=results)


QUARANTINE_CHECK = "no_quarantined_records"


def _quarantine_check(raw, path) -> dg.AssetCheckResult:
    """Warn (never block) when records failed validation: the rest of the day is stored and usable."""
    count = raw.counts.get("quarantined", 0)
    meta: dict = {"quarantined_records": count}
    if count:
        meta["file"] = dg.MetadataValue.path(f"{path}/quarantine.ndjson.gz")  # a local path or an s3:// URL
    return dg.AssetCheckResult(check_name=QUARANTINE_CHECK, passed=count == 0, severity=dg.AssetCheckSeverity.WARN,
                               metadata=meta)


def _raw_asset(provider: str, fetch):
    @dg.asset(
        name=f"raw_{provider}",
        pool=PROVIDER_POOLS[provider],  # bounds fetches at once across runs; each takes its share (pools.py)
        partitions_def=daily_partitions,
        group_name="providers",
        kinds={provider, "json"},
        required_resource_keys={provider, "storage"},  # provider resource class is chosen in definitions.py
        check_specs=[dg.AssetCheckSpec(QUARANTINE_CHECK, asset=f"raw_{provider}", blocking=False,
                                       description="Records that failed validation were quarantined (kept raw in "
                                       "quarantine.ndjson.gz next to the day's responses); the rest landed.")],
        description=f"{provider.title()} wire records of the UTC day, stored as gzip NDJSON (re-normalise without refetching).",
    )
    def _asset(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        day = context.partition_key
        storage: FleetStorage = context.resources.storage
        with open_client(getattr(context.resources, provider)) as client:
            raw = fetch(client, day)
        path = write_raw(storage.raw_dir, provider, day, raw.files, raw.manifest)
        context.log.info(f"stored raw {provider} {day}: {raw.counts}")
        return dg.MaterializeResult(
            metadata={
                **{f"raw_{k}": v for k, v in raw.counts.items()},
                "raw_bytes": sum(len(b) for b in raw.files.values()),
                "quarantined_records": raw.counts.get("quarantined", 0),
                "path": dg.MetadataValue.path(str(path)),
                "window": dg.MetadataValue.json(raw.manifest["window"]),
                "sandbox": raw.manifest["sandbox"],  # simulated data must never pass for real data
                "source": raw.manifest["source"] or "unknown",
                **({"units": raw.manifest["units"]} if "units" in raw.manifest else {}),
            },
            check_results=[_quarantine_check(raw, path)],
        )

    return _asset


def _normalized_asset(provider: str):
    name = f"normalized_{provider}"

    @dg.asset(
        name=name,
        deps=[f"raw_{provider}"],
        partitions_def=daily_partitions,
        group_name="providers",
        kinds={"parquet"},
        check_specs=check_specs(name, ["row_count_matches_raw"]),
        description=f"{provider.title()} points of the UTC day in the unified telemetry schema (Hive Parquet).",
    )
    def _asset(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
        day = context.partition_key
        raw = read_raw(storage.raw_dir, provider, day)
        result = normalize_provider_day(provider, raw, day)
        context.log.info(f"{name} {day}: {result.table.num_rows} rows ({result.duplicates} duplicates dropped)")
        return _publish(
            storage, name, day, result.table,
            duplicates=result.duplicates,
            expected_rows=result.raw_points_in_day,
            count_check="row_count_matches_raw",
            stages={"raw points (fetch window)": result.raw_points_total, "inside the day": result.raw_points_in_day},
            raw_points_total=result.raw_points_total,
            outside_day_dropped=result.raw_points_total - result.raw_points_in_day,
            sandbox=raw.manifest.get("sandbox"),  # absent in raw data fetched before it was recorded
        )

    return _asset


raw_motive = _raw_asset("motive", fetch_motive_day)
raw_samsara = _raw_asset("samsara", fetch_samsara_day)
normalized_motive = _normalized_asset("motive")
normalized_samsara = _normalized_asset("samsara")


@dg.asset(
    deps=[dg.AssetKey(name) for name in TELEMETRY_SOURCES],
    partitions_def=daily_partitions,
    group_name="telemetry",
    kinds={"parquet"},
    check_specs=check_specs("telemetry", ["row_count_matches_sources"]),
    description="Deduplicated union of the normalized_* partitions of the day (see transforms.dedup for the key).",
)
def telemetry(context: dg.AssetExecutionContext, storage: FleetStorage) -> dg.MaterializeResult:
    day = context.partition_key
    sources: dict[str, pa.Table] = {}
    for name in TELEMETRY_SOURCES:
        part = read_partition(storage.dataset(name), day)
        if part is not None:
            try:
                sources[name] = conform(part)
            except ValueError as exc:
                raise ValueError(f"{name} partition {day} does not match the telemetry schema: {exc}") from exc
    combined = pa.concat_tables(sources.values()) if sources else empty_telemetry_table()
    deduped = dedup_telemetry(combined)
    source_rows = {name: t.num_rows for name, t in sources.items()}
    context.log.info(f"telemetry {day}: sources {source_rows}, {deduped.duplicates} duplicates dropped")
    return _publish(
        storage, "telemetry", day, deduped.table,
        duplicates=deduped.duplicates,
        expected_rows=sum(source_rows.values()),
        count_check="row_count_matches_sources",
        stages=source_rows,
        sources=dg.MetadataValue.json(source_rows),
    )
