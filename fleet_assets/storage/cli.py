"""``fleet-storage``: inspect, export, prune, re-catalog and query the Parquet datasets.

Works wherever the datasets live: the data directory (embedded) or the object store named by
``FLEET_STORAGE_URL``. On object storage the store is probed once at start-up (reachable, bucket
exists, credentials may write, conditional writes enforced); any storage problem is one line naming
the setting and exit status 2.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from fleet_assets.storage.catalog import DATASETS, build_catalog, connect_catalog_readonly, connect_parquet
from fleet_assets.storage.layout import DataLayout
from fleet_assets.storage.loading import load_date_range
from fleet_assets.storage.objects import StorageError, ensure_conditional_writes
from fleet_assets.storage.parquet_partitions import list_partitions, part_key
from fleet_assets.storage.retention import delete_old_partitions


def _storage(args) -> DataLayout:
    if getattr(args, "layout", None) is None:  # built once per invocation (one S3 client)
        args.layout = DataLayout.from_settings(args.data_dir or None)
    return args.layout


def cmd_list(args) -> int:
    storage = _storage(args)
    parquet = storage.parquet_dir
    names = parquet.store.children(parquet.prefix)
    if not names:
        print(f"no datasets under {parquet.location()}")
    for name in names:
        dataset = storage.dataset(name)
        keys = list_partitions(dataset)
        size = sum(dataset.store.size(part_key(dataset, k)) or 0 for k in keys)
        span = f"{keys[0]} .. {keys[-1]}" if keys else "-"
        print(f"{name:22s} {len(keys):5d} partitions  {span:24s} {size / 1e6:10.1f} MB")
    return 0


def cmd_load(args) -> int:
    storage = _storage(args)
    print(f"loading {args.dataset} {args.start} .. {args.end} from {storage.parquet_dir.location()}", file=sys.stderr)
    df = load_date_range(args.start, args.end, dataset=args.dataset, layout=storage)
    out = Path(args.out)
    if out.suffix == ".csv":
        df.to_csv(out, index=False)
    elif out.suffix == ".parquet":
        df.to_parquet(out, index=False)
    else:
        print(f"error: --out must end in .parquet or .csv, got {out}", file=sys.stderr)
        return 2
    print(f"wrote {len(df)} rows to {out}", file=sys.stderr)
    return 0


def cmd_prune(args) -> int:
    verb = "would delete" if args.dry_run else "deleting"
    done = delete_old_partitions(
        _storage(args).store_root,
        args.keep_days,
        dry_run=args.dry_run,
        progress=lambda e: print(f"{verb} {e.area}/{e.dataset}/date={e.day}", file=sys.stderr),
    )
    print(f"{len(done)} partitions {'to delete' if args.dry_run else 'deleted'} (keep {args.keep_days} days)")
    return 0


def cmd_rebuild_catalog(args) -> int:
    storage = _storage(args)
    build = build_catalog(storage.parquet_dir, storage.duckdb_path)
    for name, glob in build.views.items():
        print(f"view {name:22s} {build.rows.get(name, 0):10d} rows -> {glob}")
    if build.skipped:
        print(f"no partitions yet (no view): {', '.join(build.skipped)}")
    if storage.is_local:
        print(f"catalog written: {build.path}")
    else:
        print(f"datasets are on object storage: DuckDB views over s3:// written to {build.path} "
              "(needs DuckDB's httpfs; `fleet-storage query` works without it)")
    return 0


def cmd_query(args) -> int:
    """One SQL statement against the catalog, opened read-only.

    Read-only so it never takes DuckDB's write lock: the catalog writer replaces
    the file atomically meanwhile, and this reader keeps its open snapshot.
    This is the supported stand-in for the DuckDB command-line tool, which is not
    installed (the Python package is, at the pinned version). Datasets on object
    storage are queried through an in-memory DuckDB over Arrow datasets (no httpfs).
    """
    import duckdb

    storage = _storage(args)
    try:
        if storage.is_local:
            con = connect_catalog_readonly(storage.duckdb_path)
        else:
            con = connect_parquet(storage.parquet_dir)
    except duckdb.Error as exc:  # not a DuckDB file, or locked by a foreign writer
        return _duckdb_failed(exc)
    try:
        relation = con.sql(args.sql)  # DuckDB 2.0: a relation for every statement (SET gives a Success row)
        if args.csv:
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(relation.columns)
            writer.writerows(relation.fetchall())
        else:
            relation.show(max_rows=args.max_rows, max_width=args.max_width)
    except duckdb.Error as exc:
        return _duckdb_failed(exc)
    finally:
        con.close()
    return 0


def _duckdb_failed(exc: Exception) -> int:
    """DuckDB errors span several lines (caret diagrams, hints): the first one says what is wrong."""
    text = str(exc).strip()
    print(f"error: {text.splitlines()[0] if text else type(exc).__name__}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fleet-storage",
        description="Inspect and maintain the daily Parquet datasets and the DuckDB catalog.",
    )
    parser.add_argument("--data-dir", help="data directory (default: $FLEET_DATA_DIR or ./data); the datasets live "
                        "in $FLEET_STORAGE_URL when set (e.g. s3://bucket/prefix, with the standard AWS_* variables)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="datasets, partition counts, date span and size").set_defaults(func=cmd_list)
    load = sub.add_parser("load", help="export a date range of a dataset to .parquet or .csv")
    load.add_argument("--start", required=True, help="first UTC day, YYYY-MM-DD")
    load.add_argument("--end", required=True, help="last UTC day (inclusive), YYYY-MM-DD")
    load.add_argument("--dataset", default="telemetry", choices=DATASETS)
    load.add_argument("--out", required=True, help="output file (.parquet or .csv)")
    load.set_defaults(func=cmd_load)
    prune = sub.add_parser("prune", help="delete partitions (Parquet and raw) older than --keep-days")
    prune.add_argument("--keep-days", type=int, required=True, help="days to keep, counted back from today (UTC)")
    prune.add_argument("--dry-run", action="store_true", help="only list what would be deleted")
    prune.set_defaults(func=cmd_prune)
    sub.add_parser("rebuild-catalog", help="(re)create warehouse.duckdb views over the datasets (object storage: warehouse.sql)").set_defaults(
        func=cmd_rebuild_catalog
    )
    query = sub.add_parser(
        "query",
        help="run SQL against warehouse.duckdb (read-only) and print a table",
        description="Run one SQL statement against the DuckDB catalog (views: "
        + ", ".join(DATASETS) + "), opened read-only so it never blocks the catalog writer.",
        epilog='example: fleet-storage query "SELECT provider, count(*) FROM telemetry GROUP BY 1"',
    )
    query.add_argument("sql", help="SQL statement, e.g. \"SELECT * FROM telemetry LIMIT 5\"")
    query.add_argument("--csv", action="store_true", help="print CSV (header + every row) instead of a table")
    query.add_argument("--max-rows", type=_positive_int, default=40, help="rows shown in the table (default 40)")
    query.add_argument("--max-width", type=_positive_int, default=200, help="table width in characters (default 200)")
    query.set_defaults(func=cmd_query)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        ensure_conditional_writes(_storage(args).store)
        return args.func(args)
    except (ValueError, FileNotFoundError, StorageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # pyarrow's S3 reads report storage failures as OSError
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: {first} (check FLEET_STORAGE_URL and the AWS_* settings)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
