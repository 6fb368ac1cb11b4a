"""Materialization metadata shown in the Dagster UI (counts, span, preview, path)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.transforms.dedup import vehicle_identity

PREVIEW_ROWS = 5


def table_metadata(table: pa.Table, path: Path, **extra) -> dict:
    """Row count, vehicles, time span, markdown preview and the Parquet path of one partition."""
    meta: dict = {
        "dagster/row_count": table.num_rows,
        "vehicles": len(pc.unique(vehicle_identity(table))) if table.num_rows else 0,
        "path": dg.MetadataValue.path(str(path)),
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(f.name, str(f.type), description=None if f.nullable else "not null") for f in table.schema]
        ),
    }
    if table.num_rows:
        span = pc.min_max(table["timestamp"]).as_py()
        meta["first_timestamp"] = span["min"].isoformat()
        meta["last_timestamp"] = span["max"].isoformat()
        preview = table.slice(0, PREVIEW_ROWS).to_pandas()
        meta["preview"] = dg.MetadataValue.md(preview.to_markdown(index=False))
    meta.update({key: value for key, value in extra.items() if value is not None})
    return meta


def summary_markdown(title: str, counts: dict[str, int]) -> dg.MetadataValue:
    lines = [f"**{title}**", "", "| stage | rows |", "|---|---:|"]
    lines += [f"| {name} | {value:,} |" for name, value in counts.items()]
    return dg.MetadataValue.md("\n".join(lines))
