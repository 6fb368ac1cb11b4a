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

Days of any size: normalized_<p> reads its raw fetch shard by shard and
telemetry combines its sources shard by shard (``transforms.shards``: a shard
holds whole vehicle identities, so dedup and the joins are exact per shard);
each publishes one Parquet file per day through ``publish_shards``, so memory
is one shard's per process (normalized_<p> spreads its shards over worker processes,
``FLEET_SHARD_WORKERS``, default one per CPU; see ``provider_ingest.workers``), readers see one ordinary Hive partition, and the Dagster
checks report the day (per-shard results combined, cross-shard facts included).
"""

import contextlib
from collections import Counter
from collections.abc import Iterable, Iterator

import dagster as dg
import pyarrow as pa

from fleet_assets.dataset_checks import check_results, check_specs
from fleet_assets.partitions import daily_partitions
from fleet_assets.provider_ingest.fetch import fetch_motive_day, fetch_samsara_day, open_client
from fleet_assets.provider_ingest.metadata import LandedSummary, summary_markdown
from fleet_assets.provider_ingest.normalize import NormalizedDay, normalize_provider_shards
from fleet_assets.provider_ingest.workers import worker_count
from fleet_assets.provider_ingest.pools import PROVIDER_POOLS
from fleet_assets.schema import TELEMETRY_SCHEMA, conform
from fleet_assets.settings import shard_workers
from fleet_assets.storage.parquet_partitions import open_partition, shard_row_groups
from fleet_assets.storage.publish import publish_shards
from fleet_assets.storage.raw_store import read_raw, write_raw
from fleet_assets.transforms import dedup_telemetry
from fleet_assets.transforms.shards import shard_of_rows, split_by_shard
from fleet_assets.transforms.rules import DATASET_RULES
from fleet_assets.warehouse.resources import FleetStorage

TELEMETRY_SOURCES = ("normalized_edge", "normalized_motive", "normalized_samsara")  # concat order


def _publish(
    storage: FleetStorage,
    dataset: str,
    day: str,
    shards: Iterable[pa.Table],
    shard_count: int,
    counts: Counter,
    *,
    count_check: str,
    stages: list[str],
    **extra_metadata,
) -> dg.MaterializeResult:
    """Publish one partition shard by shard (check, write, read back, re-check) plus the row-count check.

    ``counts`` is filled while ``shards`` is consumed: ``duplicates``, ``expected`` (input rows) and the
    ``stages`` shown in the summary.
    """
    landed = LandedSummary()
    published = publish_shards(storage.dataset(dataset), day, shards, DATASET_RULES[dataset], schema=TELEMETRY_SCHEMA,
                               shard_count=shard_count, on_landed=landed.add)
    duplicates, expected = counts["duplicates"], counts["expected"]
    results = check_results(dataset, published.checks)
    results.append(
        dg.AssetCheckResult(
            asset_key=dataset,
            check_name=count_check,
            passed=landed.rows + duplicates == expected,
            metadata={"written": landed.rows, "duplicates": duplicates, "expected_input_rows": expected},
        )
    )
    summary = {**{name: counts[key] for name, key in stages}, "duplicates dropped": duplicates, "written": landed.rows}
    metadata = landed.metadata(
        published.written.path,
        duplicates_dropped=duplicates,
        parquet_bytes=published.written.bytes,
        shards=shard_count,
        summary=summary_markdown(f"{dataset} {day}", summary),
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
        with open_client(getattr(context.resources, provider)) as client, fetch(client, day) as raw:
            path = write_raw(storage.raw_dir, provider, day, raw.pieces(), raw.manifest)  # shard by shard
        context.log.info(f"stored raw {provider} {day}: {raw.counts}")
        return dg.MaterializeResult(
            metadata={
                **{f"raw_{k}": v for k, v in raw.counts.items()},
                "raw_bytes": raw.ndjson_bytes,
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
        counts: Counter = Counter()

        workers = worker_count(raw.shards, shard_workers())

        def shards(results: Iterator[NormalizedDay]) -> Iterator[pa.Table]:
            for k, result in enumerate(results):
                counts.update(duplicates=result.duplicates, expected=result.raw_points_in_day,
                              raw_total=result.raw_points_total)
                context.log.debug(f"{name} {day} shard {k}/{raw.shards}: {result.table.num_rows} rows")
                yield result.table

        with contextlib.closing(normalize_provider_shards(provider, raw, day, workers)) as results:  # pool ends here
            materialized = _publish(
                storage, name, day, shards(results), raw.shards, counts,
                count_check="row_count_matches_raw",
                stages=[("raw points (fetch window)", "raw_total"), ("inside the day", "expected")],
                sandbox=raw.manifest.get("sandbox"),  # absent in raw data fetched before it was recorded
                workers=workers,
            )
        materialized.metadata.update(raw_points_total=counts["raw_total"],
                                     outside_day_dropped=counts["raw_total"] - counts["expected"])
        context.log.info(f"{name} {day}: {materialized.metadata['dagster/row_count']} rows in {raw.shards} shard(s) "
                         f"on {workers} process(es) ({counts['duplicates']} duplicates dropped)")
        return materialized

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
    counts: Counter = Counter()
    with contextlib.ExitStack() as stack:
        files = {name: stack.enter_context(open_partition(storage.dataset(name), day)) for name in TELEMETRY_SOURCES}
        files = {name: pf for name, pf in files.items() if pf is not None}
        indexes = {name: shard_row_groups(pf) for name, pf in files.items()}
        shard_count = max([index[0] for index in indexes.values() if index] + [1])
        source_rows = {name: pf.metadata.num_rows for name, pf in files.items()}
        unindexed: dict[str, list[pa.Table | None]] = {}  # such sources are held whole: write them in shards

        def source_shard(name: str, k: int) -> pa.Table:
            """Rows of shard ``k`` of ``shard_count`` in one source (whose own shard count divides it)."""
            pf, index = files[name], indexes[name]
            if index is None:  # written without shards (before sharding, or a small producer): read and split once
                if name not in unindexed:
                    table = _conform(name, day, pf.read())
                    unindexed[name] = split_by_shard(table, shard_of_rows(table, shard_count), shard_count)
                part, unindexed[name][k] = unindexed[name][k], None  # released as the shards go
                return part
            own, groups = index
            row_groups = groups.get(k % own, [])
            table = _conform(name, day, pf.read_row_groups(row_groups) if row_groups else pf.schema_arrow.empty_table())
            if own == shard_count:
                return table
            return table.filter(pa.array(shard_of_rows(table, shard_count) == k))

        def shards() -> Iterator[pa.Table]:
            for k in range(shard_count):
                parts = [source_shard(name, k) for name in files]  # TELEMETRY_SOURCES order, as before
                deduped = dedup_telemetry(pa.concat_tables(parts) if parts else TELEMETRY_SCHEMA.empty_table())
                counts.update(duplicates=deduped.duplicates, expected=sum(p.num_rows for p in parts))
                yield deduped.table

        counts.update(source_rows)
        materialized = _publish(
            storage, "telemetry", day, shards(), shard_count, counts,
            count_check="row_count_matches_sources",
            stages=[(name, name) for name in files],
            sources=dg.MetadataValue.json(source_rows),
        )
    context.log.info(f"telemetry {day}: sources {source_rows}, {counts['duplicates']} duplicates dropped, "
                     f"{shard_count} shard(s)")
    return materialized


def _conform(name: str, day: str, part: pa.Table) -> pa.Table:
    try:
        return conform(part)
    except ValueError as exc:
        raise ValueError(f"{name} partition {day} does not match the telemetry schema: {exc}") from exc
