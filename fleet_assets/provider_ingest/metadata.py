"""Materialization metadata shown in the Dagster UI (counts, span, preview, path)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.transforms.dedup import vehicle_identity

PREVIEW_ROWS = 5


class LandedSummary:
    """UI metadata of a partition seen shard by shard (``publish_shards(on_landed=...)``), never the whole day.

    Vehicles are summed per shard: exact, because a vehicle identity lives in one shard.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.vehicles = 0
        self.first = self.last = None
        self.schema: pa.Schema | None = None
        self.preview: pa.Table | None = None

    def add(self, table: pa.Table) -> None:
        self.schema = self.schema or table.schema
        if not table.num_rows:
            return
        self.rows += table.num_rows
        self.vehicles += len(pc.unique(vehicle_identity(table)))
        span = pc.min_max(table["timestamp"]).as_py()
        self.first = span["min"] if self.first is None else min(self.first, span["min"])
        self.last = span["max"] if self.last is None else max(self.last, span["max"])
        if self.preview is None:
            self.preview = table.slice(0, PREVIEW_ROWS)

    def metadata(self, path: Path | str, **extra) -> dict:
        meta: dict = {
            "dagster/row_count": self.rows,
            "vehicles": self.vehicles,
            "path": dg.MetadataValue.path(str(path)),
        }
        if self.schema is not None:
            meta["dagster/column_schema"] = dg.TableSchema(columns=[
                dg.TableColumn(f.name, str(f.type), description=None if f.nullable else "not null") for f in self.schema])
        if self.rows:
            meta["first_timestamp"] = self.first.isoformat()
            meta["last_timestamp"] = self.last.isoformat()
            meta["preview"] = dg.MetadataValue.md(self.preview.to_pandas().to_markdown(index=False))
        meta.update({key: value for key, value in extra.items() if value is not None})
        return meta


def summary_markdown(title: str, counts: dict[str, int]) -> dg.MetadataValue:
    lines = [f"**{title}**", "", "| stage | rows |", "|---|---:|"]
    lines += [f"| {name} | {value:,} |" for name, value in counts.items()]
    return dg.MetadataValue.md("\n".join(lines))
