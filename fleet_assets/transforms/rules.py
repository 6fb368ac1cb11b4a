"""Data-quality rules of every daily dataset: one parametrised rule set.

Blocking asset checks stop downstream steps but cannot undo a write, so the
publish path (:func:`fleet_assets.storage.publish.publish_partition`) runs a
dataset's rules on the in-memory table *before* writing (a failure raises and
nothing is written) and again on the Parquet partition as it landed; the
second run is what the asset checks report. Provider, telemetry and edge
datasets all use these rules; only the parameters (key columns, coordinate and
time columns, whether a coordinate may be missing) differ per dataset.

Nulls, explicitly:

* keys: a row with a null in any key column has no identity and fails the rule
  (``null_keys``); duplicates are counted among the rows with a complete key.
* coordinates: out-of-range values (NaN too) always fail (``bad_<column>``); a missing
  latitude or longitude (``null_coordinates``) fails unless the dataset allows
  it (edge events without a GPS fix).
* time: a null time is never inside the partition day (``null_timestamps``)
  and fails the rule like a time outside it (``rows_outside_day``).

Each rule returns ``RuleResult(passed, metadata)``; pure Arrow, no Dagster.

Days published shard by shard (:func:`fleet_assets.storage.publish.publish_shards`)
are checked shard by shard and the results combined (:class:`ShardedEvaluation`):
a rule passes when it passes on every shard, counts are summed. Every rule but
key uniqueness is per row, so that is exact. Uniqueness is exact too when no key
value of ``shard_key`` (the vehicle identity; the trip) occurs in two shards —
the sharding contract, which the combined ``shard_key_rule`` result verifies
(``keys_in_several_shards``) instead of assuming.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from fleet_assets.days import day_bounds, in_day
from fleet_assets.schema import TELEMETRY_SCHEMA
from fleet_assets.transforms.dedup import vehicle_identity


class RuleResult(NamedTuple):
    passed: bool
    metadata: dict


Rule = Callable[[pa.Table, "str | date"], RuleResult]
KeyPart = str | Callable[[pa.Table], pa.ChunkedArray]  # a column name, or a key derived from the row


def _count(mask) -> int:
    return int(pc.sum(mask).as_py() or 0)


def schema_matches(schema: pa.Schema) -> Rule:
    """The table has exactly ``schema`` (names, order, types); metadata is ignored."""
    def rule(table: pa.Table, day) -> RuleResult:
        ok = table.schema.equals(schema, check_metadata=False)
        return RuleResult(ok, {"columns": len(table.schema), "expected": str(schema.names)[:500],
                               "actual": str(table.schema.names)[:500]})
    return rule


def unique_keys(*parts: KeyPart) -> Rule:
    """No two rows share a key, and every row has a complete (null-free) key."""
    def rule(table: pa.Table, day) -> RuleResult:
        if table.num_rows == 0:
            return RuleResult(True, {"duplicate_keys": 0, "null_keys": 0})
        keys = pa.table({f"k{i}": table[p] if isinstance(p, str) else p(table) for i, p in enumerate(parts)})
        complete = functools.reduce(pc.and_, [pc.is_valid(column) for column in keys.columns])
        null_keys = keys.num_rows - _count(complete)
        if null_keys:
            keys = keys.filter(complete)
        dupes = keys.num_rows - keys.group_by(keys.column_names).aggregate([]).num_rows
        return RuleResult(dupes == 0 and null_keys == 0, {"duplicate_keys": dupes, "null_keys": null_keys})
    return rule


def coordinates_in_range(lat: str, lon: str, *, nulls_allowed: bool) -> Rule:
    """Latitude in [-90, 90], longitude in [-180, 180]; missing ones only where ``nulls_allowed``."""
    def rule(table: pa.Table, day) -> RuleResult:
        bad_lat, bad_lon = _outside(table[lat], 90.0), _outside(table[lon], 180.0)
        missing = _count(pc.or_(pc.is_null(table[lat]), pc.is_null(table[lon])))
        ok = bad_lat + bad_lon == 0 and (nulls_allowed or missing == 0)
        return RuleResult(ok, {f"bad_{lat}": bad_lat, f"bad_{lon}": bad_lon, "null_coordinates": missing})
    return rule


def _outside(values, limit: float) -> int:
    """Values outside [-limit, limit], NaN included; nulls are not counted here."""
    inside = pc.and_(pc.greater_equal(values, -limit), pc.less_equal(values, limit))
    return _count(pc.fill_null(pc.invert(inside), False))


def within_day(column: str) -> Rule:
    """Every ``column`` value lies in the partition's UTC day ``[day, day+1)``; null is never inside."""
    def rule(table: pa.Table, day) -> RuleResult:
        nulls = table[column].null_count
        outside = table.num_rows - _count(in_day(table[column], day)) - nulls
        start, end = day_bounds(day)
        return RuleResult(outside + nulls == 0, {"rows_outside_day": outside, "null_timestamps": nulls,
                                                 "window": f"[{start.isoformat()}, {end.isoformat()})"})
    return rule


@dataclass(frozen=True)
class DatasetRules:
    """The named rules of one dataset. A failed ``schema`` rule stops the rest (they would read missing columns)."""

    dataset: str
    rules: dict[str, Rule]
    schema_rule: str | None = None
    shard_key: KeyPart | None = None  # shards never share a value of this (see the module docstring)
    shard_key_rule: str | None = None  # the key-uniqueness rule that relies on it

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.rules)

    def evaluate(self, table: pa.Table, day: str | date) -> dict[str, RuleResult]:
        results: dict[str, RuleResult] = {}
        for name, rule in self.rules.items():
            results[name] = rule(table, day)
            if name == self.schema_rule and not results[name].passed:
                break
        return results


    def sharded(self, day: str | date) -> ShardedEvaluation:
        return ShardedEvaluation(self, day)


class ShardedEvaluation:
    """Rules of one day evaluated shard by shard: ``add`` each shard, then ``results`` for the day."""

    def __init__(self, rules: DatasetRules, day: str | date):
        self.rules, self.day = rules, day
        self._per_shard: list[dict[str, RuleResult]] = []
        self._seen: set = set()
        self._overlap = 0

    def add(self, table: pa.Table) -> dict[str, RuleResult]:
        results = self.rules.evaluate(table, self.day)
        self._per_shard.append(results)
        key = self.rules.shard_key
        if key is not None and table.num_rows and all(ok for ok, _ in results.values()):
            values = set(pc.unique(table[key] if isinstance(key, str) else key(table)).to_pylist())
            self._overlap += len(values & self._seen)
            self._seen |= values
        return results

    def results(self) -> dict[str, RuleResult]:
        """Per rule: passed on every shard; integer metadata summed (counts), other metadata and the schema
        rule's (it describes the schema, not rows) from the first shard."""
        combined: dict[str, RuleResult] = {}
        for results in self._per_shard:
            for name, (ok, meta) in results.items():
                if name not in combined:
                    combined[name] = RuleResult(ok, dict(meta))
                    continue
                total = combined[name].metadata
                for k, v in meta.items() if name != self.rules.schema_rule else ():
                    if isinstance(v, int) and not isinstance(v, bool) and isinstance(total.get(k), int):
                        total[k] += v
                combined[name] = RuleResult(combined[name].passed and ok, total)
        rule = self.rules.shard_key_rule
        if rule in combined:
            ok, meta = combined[rule]
            combined[rule] = RuleResult(ok and self._overlap == 0, {**meta, "keys_in_several_shards": self._overlap})
        return combined


def _telemetry_rules(dataset: str) -> DatasetRules:
    """The unified 14-column datasets: ``normalized_<provider>`` and ``telemetry``."""
    return DatasetRules(dataset, {
        "schema_matches": schema_matches(TELEMETRY_SCHEMA),
        "no_duplicate_keys": unique_keys(vehicle_identity, "timestamp"),  # the dedup key (transforms.dedup)
        "coordinates_in_range": coordinates_in_range("latitude", "longitude", nulls_allowed=False),
        "timestamps_in_partition_day": within_day("timestamp"),
    }, schema_rule="schema_matches", shard_key=vehicle_identity, shard_key_rule="no_duplicate_keys")


# Check names are the asset check names shown in Dagster; they predate this module and are kept.
DATASET_RULES: dict[str, DatasetRules] = {
    **{name: _telemetry_rules(name) for name in ("normalized_motive", "normalized_samsara", "telemetry")},
    "edge_events": DatasetRules("edge_events", {
        "no_duplicate_trip_seq": unique_keys("trip_id", "seq"),
        "lat_lon_in_range": coordinates_in_range("lat", "lon", nulls_allowed=True),  # no GPS fix yet
        "ts_within_day": within_day("ts"),
    }, shard_key="trip_id", shard_key_rule="no_duplicate_trip_seq"),  # shards hold whole trips
    "edge_dtcs": DatasetRules("edge_dtcs", {
        "no_duplicate_trip_seq": unique_keys("trip_id", "seq"),
        "ts_within_day": within_day("ts"),
    }, shard_key="trip_id", shard_key_rule="no_duplicate_trip_seq"),
    "trip_summaries": DatasetRules("trip_summaries", {
        "one_row_per_trip": unique_keys("trip_id"),
        "started_within_day": within_day("started_at"),
    }, shard_key="trip_id", shard_key_rule="one_row_per_trip"),
    "normalized_edge": DatasetRules("normalized_edge", {
        "lat_lon_in_range": coordinates_in_range("latitude", "longitude", nulls_allowed=False),  # telemetry schema
        "ts_within_day": within_day("timestamp"),
    }),
}
